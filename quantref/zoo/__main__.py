"""Command line of the model zoo: ``python -m quantref.zoo <command>``.

Commands
--------
train [--out PATH] [--no-progress]
    Retrain the digits MLP with ``DIGITS_MLP_SETTINGS`` and write its weights (by default over
    the shipped ``quantref/zoo/digits_mlp.npz``); prints the test accuracy and the training time.
train-cnn [--out PATH] [--no-progress]
    Retrain the digits ConvNet with ``DIGITS_CNN_SETTINGS`` and write it (by default over the
    shipped ``quantref/zoo/digits_cnn.npz``); prints the test accuracy and the training time.
train-byte-lm [--out PATH] [--no-progress]
    Retrain the byte-level language model with ``BYTE_LM_SETTINGS`` on the standard-library corpus
    and write its weights (by default over the shipped ``quantref/zoo/byte_lm.npz``); prints the
    held-out perplexity and bits per byte, the corpus fingerprint and the training time.
report-byte-lm
    Round every linear weight of the byte-level language model to int8, int4 and int3 (symmetric
    and asymmetric, per output channel and per group of 32 inputs) and print the held-out
    perplexity of each against float32.
report
    Quantize the shipped MLP to integers (calibrated on the training split) and print float
    versus integer accuracy on the test split, and both models' sizes in bytes.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .digits import load_digits_split
from .pretrained import DIGITS_MLP_SETTINGS, pretrained_mlp, pretrained_path
from .training import train_mlp


def _train(out: Path | None, progress: bool) -> int:
    data = load_digits_split()
    start = time.perf_counter()
    mlp = train_mlp(**DIGITS_MLP_SETTINGS, progress=progress, data=data)
    seconds = time.perf_counter() - start
    target = out or Path(str(pretrained_path()))
    mlp.save(target)
    print(f"{mlp}: test accuracy {mlp.accuracy(data.x_test, data.y_test):.2%}, trained in {seconds:.1f} s "
          f"with {DIGITS_MLP_SETTINGS}; wrote {target}")
    return 0


def _train_cnn(out: Path | None, progress: bool) -> int:
    from .cnn_training import train_cnn
    from .digits_cnn import DIGITS_CNN_SETTINGS, pretrained_cnn_path

    data = load_digits_split()
    start = time.perf_counter()
    cnn = train_cnn(**DIGITS_CNN_SETTINGS, progress=progress, data=data)
    seconds = time.perf_counter() - start
    target = out or Path(str(pretrained_cnn_path()))
    cnn.save(target)
    print(f"{cnn}: test accuracy {cnn.accuracy(data.x_test, data.y_test):.2%}, trained in {seconds:.1f} s "
          f"with {DIGITS_CNN_SETTINGS}; wrote {target}")
    return 0


def _train_byte_lm(out: Path | None, progress: bool) -> int:
    from .byte_lm_pretrained import BYTE_LM_SETTINGS, train_and_save
    from .byte_lm_pretrained import pretrained_path as byte_lm_path

    target = out or Path(str(byte_lm_path()))
    model, meta = train_and_save(target, progress=progress)
    print(f"{model}: held-out perplexity {meta['heldout_perplexity']:.4f}, "
          f"{meta['heldout_bits_per_byte']:.4f} bits per byte; trained in {meta['train_seconds']:.1f} s "
          f"({meta['train_cpu_seconds']:.1f} s CPU) with {BYTE_LM_SETTINGS} on a corpus of "
          f"{meta['corpus_bytes']} bytes (sha256 {meta['corpus_sha256']}, Python {meta['python']}); wrote {target}")
    return 0


def _report_byte_lm() -> int:
    from ..linear import fake_quantize, minmax, qparams
    from .byte_lm import perplexity
    from .byte_lm_pretrained import pretrained_byte_lm
    from .text import load_stdlib_corpus

    corpus = load_stdlib_corpus()
    model = pretrained_byte_lm(corpus=corpus)
    base = perplexity(model, corpus.heldout)
    print(f"{model}\nfloat32: held-out perplexity {base:.4f}")

    def rtn(w, bits, symmetric, group):
        axis = 0 if group is None else 1          # keep the output channels / cut the inputs into groups
        lo, hi = minmax(w, axis=axis, group_size=group)
        scale, zero = qparams(lo, hi, bits, symmetric=symmetric)
        return fake_quantize(w, scale, zero, bits, signed=symmetric, axis=axis, group_size=group)

    for bits in (8, 4, 3):
        for symmetric in (True, False):
            for group in (None, 32):
                quantized = model.with_linear_weights({name: rtn(w, bits, symmetric, group)
                                                       for name, w in model.linear_weights().items()})
                ppl = perplexity(quantized, corpus.heldout)
                print(f"int{bits} {'symmetric' if symmetric else 'asymmetric':>10} "
                      f"{'per channel' if group is None else 'group of ' + str(group):>11}: "
                      f"perplexity {ppl:.4f} ({100 * (ppl / base - 1):+.2f} %)")
    return 0


def _report() -> int:
    from ..integer import IntegerMLP, compare_with_float

    data = load_digits_split()
    mlp = pretrained_mlp()
    integer_mlp = IntegerMLP.from_float(mlp, data.x_train)
    print(f"{mlp} -> {integer_mlp}")
    print(compare_with_float(mlp, integer_mlp, data.x_test, data.y_test))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quantref.zoo", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_train = sub.add_parser("train", help="retrain the digits MLP and write its weights")
    p_train.add_argument("--out", type=Path, default=None, help="where to write the .npz (default: the shipped file)")
    p_train.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_cnn = sub.add_parser("train-cnn", help="retrain the digits ConvNet and write it")
    p_cnn.add_argument("--out", type=Path, default=None, help="where to write the .npz (default: the shipped file)")
    p_cnn.add_argument("--no-progress", action="store_true", help="no progress bar")
    p_lm = sub.add_parser("train-byte-lm", help="retrain the byte-level language model and write its weights")
    p_lm.add_argument("--out", type=Path, default=None, help="where to write the .npz (default: the shipped file)")
    p_lm.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("report-byte-lm", help="held-out perplexity of the byte-level model with int8/int4/int3 weights")
    sub.add_parser("report", help="float versus integer accuracy and size of the shipped MLP")
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args.out, not args.no_progress)
    if args.command == "train-byte-lm":
        return _train_byte_lm(args.out, not args.no_progress)
    if args.command == "report-byte-lm":
        return _report_byte_lm()
    if args.command == "train-cnn":
        return _train_cnn(args.out, not args.no_progress)
    return _report()


if __name__ == "__main__":
    raise SystemExit(main())
