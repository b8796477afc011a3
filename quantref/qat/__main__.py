"""Print the PTQ table and the PTQ-vs-QAT table of the digits MLP, with their compute times.

    python -m quantref.qat [--epochs N] [--no-progress]
"""
from __future__ import annotations

import argparse
import time

from .ptq import TABLE_OBSERVERS, format_table, ptq_table
from .train import QAT_DEFAULTS, ptq_vs_qat_table


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m quantref.qat", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=QAT_DEFAULTS["epochs"], help="QAT epochs per bit width")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    args = parser.parse_args(argv)
    progress = not args.no_progress
    cols = ["config", "float", *TABLE_OBSERVERS]

    variants = (("minmax", "weights max|W_c| per channel"), ("same", "weights calibrated like the activations"))
    for weights, title in variants:
        t0 = time.perf_counter()
        rows = ptq_table(weight_observer=weights, seed=args.seed, progress=progress)
        seconds = time.perf_counter() - t0
        print(f"\nPTQ test accuracy (%), activations by column, {title} ({seconds:.1f} s)\n")
        print(format_table(rows, cols))

    t0 = time.perf_counter()
    rows = ptq_vs_qat_table(epochs=args.epochs, seed=args.seed, progress=progress)
    seconds = time.perf_counter() - t0
    print(f"\nPTQ vs QAT ({args.epochs} epochs) test accuracy (%), WbAb ({seconds:.1f} s)\n")
    print(format_table(rows, ["bits", "float", "ptq_minmax", "ptq_mse", "qat", "ptq_seconds", "qat_seconds"]))


if __name__ == "__main__":
    main()
