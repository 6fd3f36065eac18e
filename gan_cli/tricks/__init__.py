"""Training tricks as pieces: each module registers a builder in TRICKS (see base.py for the hooks).

HOOK_ORDER is the order the hooks run in: a trick that sets z (mode seeking pairs a class) comes before
one that reads it (conditional labels); augmentation before instance noise; D's wrappers from the inside
out (Q head, projection, packing); D's extra terms in a fixed order. To add a trick: a module here that
registers it, its keys in gan_cli/schema.py and conf/, and its name in HOOK_ORDER.
"""

from __future__ import annotations

from typing import Any

from gan_cli.tricks import (  # noqa: F401  (each registers its builders)
    ada,
    conditional,
    diffaug,
    drift,
    infogan,
    instance_noise,
    latent_classes,
    mode_seeking,
    packing,
    path_length,
    penalty,
    topk,
)
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick

HOOK_ORDER = (
    "latent_classes",
    "infogan",
    "mode_seeking",
    "conditional",
    "packing",
    "topk",
    "diffaug",
    "ada",
    "instance_noise",
    "r1",
    "gradient_penalty",
    "drift",
    "path_length",
)


def build_tricks(cfg: Any, loss: Any) -> list[Trick]:
    """The tricks `cfg` turns on, in hook order (`loss`: the run's GANLoss, whose penalty some read)."""
    tricks = (TRICKS.get(name)(cfg, loss) for name in HOOK_ORDER)
    return [t for t in tricks if t is not None]


__all__ = ["HOOK_ORDER", "TRICKS", "Batch", "Term", "Trick", "build_tricks"]
