"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for training on small datasets.

`train.diffaug=[translation,cutout]` applies the same kind of random transform to every image D sees, real
or generated, in D's updates and in G's: D never sees an unaugmented image, so it cannot memorise the few
training images, and because the transforms are differentiable G still gets its gradient through them.
The transforms come from the paper's reference implementation (images in [-1, 1], zeros fill what is
moved or cut away). They draw from torch's random generator, so a resumed run continues exactly.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gan_cli.errors import ConfigError


def brightness(x: Tensor) -> Tensor:
    """Add one value in [-0.5, 0.5) to every pixel of an image."""
    return x + (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def saturation(x: Tensor) -> Tensor:
    """Scale each pixel's distance from its channel mean by a factor in [0, 2) (no-op for gray)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean


def contrast(x: Tensor) -> Tensor:
    """Scale each image's distance from its mean by a factor in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def _grid(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    n, _, h, w = x.shape
    return torch.meshgrid(
        torch.arange(n, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )


def translation(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Shift each image by up to `ratio` of its size in each direction (whole pixels), filling with 0."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    b, i, j = _grid(x)
    # index into a copy padded by one zero pixel; out-of-range positions land on the padding
    i = torch.clamp(i + dy + 1, 0, h + 1)
    j = torch.clamp(j + dx + 1, 0, w + 1)
    padded = torch.nn.functional.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # NHWC
    return padded[b, i, j].permute(0, 3, 1, 2)


def cutout(x: Tensor, ratio: float = 0.5) -> Tensor:
    """Zero one square of `ratio` of the image's size per image, at a random place (clipped at edges)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    b, i, j = _grid(x)
    inside = (i >= oy - ch // 2) & (i < oy - ch // 2 + ch) & (j >= ox - cw // 2) & (j < ox - cw // 2 + cw)
    return x * (~inside).to(x.dtype).unsqueeze(1)


POLICIES = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse(policy) -> tuple:
    """`["translation", "cutout"]` -> the transforms, in order; [] -> none. Unknown names: a config error.
    (The schema types train.diffaug as a list of strings: a bare string never reaches here.)"""
    names = [str(p) for p in policy]
    unknown = [p for p in names if p not in POLICIES]
    if unknown:
        raise ConfigError(
            f"train.diffaug={names}: unknown {', '.join(unknown)}. Use a list of {', '.join(POLICIES)}, "
            "e.g. train.diffaug=[translation,cutout] ([] for none)."
        )
    return tuple(f for p in names for f in POLICIES[p])


class DiffAugment:
    """Callable applying a policy's transforms; the identity when the policy is empty."""

    def __init__(self, policy) -> None:
        self.transforms = parse(policy)

    def __bool__(self) -> bool:
        return bool(self.transforms)

    def __call__(self, x: Tensor) -> Tensor:  # images [N, C, H, W]; train refuses it for points
        for t in self.transforms:
            x = t(x)
        return x
