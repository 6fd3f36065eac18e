"""augment.py: DiffAugment's transforms, their gradients and the policy parser."""

from __future__ import annotations

import pytest
import torch

from gan_cli.augment import DiffAugment, brightness, contrast, cutout, parse, saturation, translation
from gan_cli.errors import ConfigError


def _shifted(img: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    out = torch.zeros_like(img)
    h, w = img.shape[-2:]
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = img[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_translation_is_a_zero_filled_shift_within_the_ratio():
    torch.manual_seed(0)
    x = torch.randn(32, 3, 16, 16)
    y = translation(x, 0.125)  # up to 2 pixels each way
    seen = set()
    for a, b in zip(x, y, strict=True):
        # the output of `translation` at (i, j) is the input at (i + dy, j + dx): a shift by (-dy, -dx)
        matches = [
            (dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if torch.equal(b, _shifted(a, -dy, -dx))
        ]
        assert len(matches) == 1
        seen.add(matches[0])
    assert len(seen) > 5  # the shifts vary from image to image


def test_cutout_zeroes_one_square_per_image():
    torch.manual_seed(0)
    x = torch.rand(64, 2, 16, 16) + 1.0  # no zeros of its own
    y = cutout(x, 0.5)
    zero = y == 0
    assert torch.equal(zero[:, 0], zero[:, 1])  # the same square in every channel
    for mask in zero[:, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert 0 < mask.sum() <= 64  # an 8x8 square, clipped at the borders
        assert mask.sum() == len(rows) * len(cols)  # a rectangle...
        assert len(rows) <= 8 and len(cols) <= 8
    assert torch.equal(y[~zero], x[~zero])


def test_color_transforms_change_whole_images():
    """Each colour transform draws one factor per image and applies it as DiffAugment's reference does;
    the factors are read back from the output and checked against the same draws made here."""
    torch.manual_seed(0)
    x = torch.rand(8, 3, 4, 4)
    torch.manual_seed(1)
    r = torch.rand(8, 1, 1, 1)  # the draws each transform makes from the seed below
    torch.manual_seed(1)
    d = brightness(x) - x
    assert torch.allclose(d, (r - 0.5).expand_as(d), atol=1e-6)  # one offset per image, in [-0.5, 0.5)
    assert d[:, 0, 0, 0].std() > 0.1  # and the images get different offsets
    torch.manual_seed(1)
    s = saturation(x)
    grey = x.mean(dim=1, keepdim=True)
    assert torch.allclose(s.mean(dim=1, keepdim=True), grey, atol=1e-6)  # each pixel's grey value kept
    assert torch.allclose(s - grey, (x - grey) * 2 * r, atol=1e-6)  # its colour scaled by [0, 2)
    torch.manual_seed(1)
    c = contrast(x)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    assert torch.allclose(c.mean(dim=(1, 2, 3), keepdim=True), mean, atol=1e-6)  # each image's mean kept
    assert torch.allclose(c - mean, (x - mean) * (r + 0.5), atol=1e-6)  # its spread scaled by [0.5, 1.5)


def test_gradients_flow_through_the_policy():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 8, 8, requires_grad=True)
    DiffAugment(["color", "translation", "cutout"])(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_parse_refuses_unknown_names_and_empty_is_identity():
    with pytest.raises(ConfigError, match="unknown blur"):
        parse(["translation", "blur"])
    aug = DiffAugment([])
    x = torch.randn(2, 1, 4, 4)
    assert not aug
    assert aug(x) is x
