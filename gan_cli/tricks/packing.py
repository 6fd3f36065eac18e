"""PacGAN (Lin et al. 2018), model.pac > 1: D judges pac samples at once, so mode collapse shows."""

from __future__ import annotations

from torch import nn

from gan_cli.nets import Packed
from gan_cli.tricks.base import TRICKS, Trick


class Packing(Trick):
    name = "packing"

    def __init__(self, pac: int) -> None:
        self.pac = pac

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        # the architecture's D was built for pac samples side by side (MODELS builders take pac)
        return G, Packed(D, self.pac)


@TRICKS.register("packing")
def build(cfg, loss) -> Trick | None:
    pac = int(cfg.model.get("pac", 1))
    return Packing(pac) if pac > 1 else None
