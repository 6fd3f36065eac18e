"""Does G copy its training images? For a few hundred training images users need to know.

The share of generated samples whose nearest training image is nearer than the 1st percentile of the
training images' own nearest-neighbour distances, in pixels and in the features gan-eval judges with (the
classifier's): held-out real images score about 0.01, a G that returns training images about 1. gan-eval
writes the closest sample / training-image pairs as RUN/copies.png beside eval.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from gan_cli import metrics as M
from gan_cli.classifier import to_float

MAX_TRAIN = 5000  # training images compared against (a fixed random subset above it)
PERCENTILE = 1.0
PAIRS = 8  # closest pairs in the grid


def copy_metrics(
    fake: Tensor,
    train: Tensor,
    features: Callable[[Tensor], Tensor] | None,
    how: dict[str, str],
    pairs: dict[str, Tensor] | None = None,
) -> dict[str, Any]:
    """`copies_pixels` (and `copies_features` with a feature extractor) for generated images in [-1, 1]
    against the training images (uint8 or float); `pairs["copies"]`, when asked for, holds the PAIRS
    closest samples over their nearest training images [2 * PAIRS, C, H, W]."""
    if len(train) > MAX_TRAIN:
        train = train[torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[:MAX_TRAIN]]
    train = to_float(train.cpu())
    fake = fake.cpu().float()
    share, threshold, dist, idx = M.copy_share(fake, train, PERCENTILE)
    results: dict[str, Any] = {"copies_pixels": share}
    if features is not None:
        results["copies_features"] = M.copy_share(features(fake), features(train), PERCENTILE)[0]
    how["copies_pixels, copies_features"] = (
        f"the share of the {len(fake)} samples whose nearest of {len(train)} training images is nearer than "
        f"the {PERCENTILE:g}st percentile of the training images' own nearest-neighbour distances (pixels: "
        f"{threshold:.4g}), in pixels and "
        + ("in the classifier's features" if features is not None else "(no classifier: pixels only)")
        + "; held-out real images score about 0.01, copies of training images 1. RUN/copies.png: the "
        f"{min(PAIRS, len(fake))} closest samples (top) over their nearest training images (bottom), "
        "in pixels"
    )
    if pairs is not None:
        order = dist.argsort()[:PAIRS]
        pairs["copies"] = torch.cat([fake[order], train[idx[order]]])
    return results
