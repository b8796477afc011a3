"""Command line of the model zoo: ``python -m quantref.zoo <command>``.

Commands
--------
train [--out PATH] [--no-progress]
    Retrain the digits MLP with ``DIGITS_MLP_SETTINGS`` and write its weights (by default over
    the shipped ``quantref/zoo/digits_mlp.npz``); prints the test accuracy and the training time.
train-cnn [--out PATH] [--no-progress]
    Retrain the digits ConvNet with ``DIGITS_CNN_SETTINGS`` and write it (by default over the
    shipped ``quantref/zoo/digits_cnn.npz``); prints the test accuracy and the training time.
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
    sub.add_parser("report", help="float versus integer accuracy and size of the shipped MLP")
    args = parser.parse_args(argv)
    if args.command == "train":
        return _train(args.out, not args.no_progress)
    if args.command == "train-cnn":
        return _train_cnn(args.out, not args.no_progress)
    return _report()


if __name__ == "__main__":
    raise SystemExit(main())
