"""copies.py: does G copy its training images? Held-out real images score about 0.01, copies 1."""

from __future__ import annotations

import pytest
import torch

from gan_cli import metrics as M
from gan_cli.classifier import split, to_float
from gan_cli.copies import copy_metrics


def halves(digits8):
    train_idx, other_idx = split(len(digits8.images))
    return to_float(digits8.images[train_idx]), to_float(digits8.images[other_idx])


def test_held_out_real_images_look_like_no_copies_and_training_images_like_copies(digits8):
    train, held_out = halves(digits8)
    share, threshold, dist, idx = M.copy_share(held_out, train, percentile=1.0)
    assert threshold > 0 and share == pytest.approx(0.01, abs=0.02)
    share, _, dist, idx = M.copy_share(train[:300], train, percentile=1.0)
    assert share == 1.0 and torch.equal(idx, torch.arange(300)) and dist.max() < 0.01
    # a sample a little off a training image still counts: nearer than 99% of the training images' pairs
    nudged = train[:300] + 0.001 * torch.randn_like(train[:300])
    assert M.copy_share(nudged, train)[0] == 1.0


def test_copy_metrics_in_pixels_and_features_with_the_closest_pairs(digits8):
    train, held_out = halves(digits8)
    fake = torch.cat([train[:50], held_out[:450]])  # a tenth copied
    how: dict[str, str] = {}
    pairs: dict[str, torch.Tensor] = {}
    flat = lambda x: x.flatten(1) * 2  # noqa: E731  (a stand-in feature extractor)
    m = copy_metrics(fake, digits8.images[split(len(digits8.images))[0]], flat, how, pairs)
    assert m["copies_pixels"] == pytest.approx(0.1, abs=0.02)
    assert m["copies_features"] == pytest.approx(m["copies_pixels"], abs=1e-9)  # a scaled copy of pixels
    assert pairs["copies"].shape == (16, 1, 8, 8)
    assert torch.equal(pairs["copies"][:8], pairs["copies"][8:])  # the closest are the exact copies
    assert "1st percentile" in how["copies_pixels, copies_features"]
