"""``python -m quantref.bench {gemm,pq,w4a16} [--quick] [--threads 1,2]``: run a benchmark by name."""
import sys

from quantref.bench import reexec_without_blas_overrides

# First thing, before this process measures anything with NumPy: drop OPENBLAS_CORETYPE /
# OPENBLAS_L2_SIZE by re-executing (see reexec_without_blas_overrides).
reexec_without_blas_overrides("quantref.bench")

BENCHMARKS = {"gemm": "quantref.bench.gemm", "pq": "quantref.bench.pq", "w4a16": "quantref.bench.w4a16"}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in BENCHMARKS:
        print("usage: python -m quantref.bench {" + ",".join(BENCHMARKS) + "} [options]\n"
              "  gemm   integer matmul ladder vs NumPy float32/int32 (--quick, --threads 1,2)\n"
              "  pq     PQ / MADDNESS scans and encoders, LUT dequantization vs NumPy (--quick, --threads 1,2)\n"
              "  w4a16  4-bit weight GEMV / small-M matmul vs NumPy float32, weights from memory (--quick, --threads 1,2)",
              file=sys.stderr if argv and argv[0] not in ("-h", "--help") else sys.stdout)
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    import importlib

    return importlib.import_module(BENCHMARKS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
