"""model.latent_classes=K: z's first coordinate picks one of K classes, which G receives one-hot."""

from __future__ import annotations

from torch import nn

from gan_cli.nets import CategoricalLatent
from gan_cli.tricks.base import TRICKS, Trick


class LatentClasses(Trick):
    name = "latent_classes"

    def __init__(self, classes: int, weighted: bool) -> None:
        self.classes, self.weighted = classes, weighted

    def g_input(self, nz: int) -> int:
        return nz - 1 + self.classes  # K one-hot entries and nz - 1 continuous ones

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        # weighted (model.conditional): classes in the dataset's shares, set by the conditional trick
        return CategoricalLatent(G, self.classes, self.weighted), D


@TRICKS.register("latent_classes")
def build(cfg, loss) -> Trick | None:
    classes = int(cfg.model.get("latent_classes", 0))
    return LatentClasses(classes, bool(cfg.model.get("conditional", False))) if classes else None
