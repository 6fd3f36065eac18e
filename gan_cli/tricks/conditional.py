"""A class-conditional GAN, model.conditional: a projection D judges real images with their dataset labels
and generated ones with the class their z picked, drawn in the dataset's proportions."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gan_cli.errors import ConfigError
from gan_cli.nets import Projection
from gan_cli.tricks.base import TRICKS, Batch, Trick


class Conditional(Trick):
    name = "conditional"

    def __init__(self, classes: int, dataset: str, spectral: bool = False) -> None:
        self.classes, self.dataset, self.G = classes, dataset, None
        self.spectral = spectral  # model.d_norm=spectral: the class embedding is normalised as D is

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        if getattr(D, "takes_labels", False):  # a D with its own conditioning (StyleGAN2's projection)
            return G, D
        return G, Projection(D, self.classes, self.spectral)

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        labels = getattr(data, "labels", None)
        if labels is None:
            raise ConfigError(
                f"model.conditional=true needs class labels, and dataset={self.dataset} has none (the 2-D "
                "mixtures and an image folder without class subfolders have none). Leave "
                "model.conditional=false."
            )
        classes = int(labels.max()) + 1
        if classes != self.classes:
            raise ConfigError(
                f"model.latent_classes={self.classes}, but dataset={self.dataset} has {classes} classes; a "
                f"conditional GAN needs one latent class per label: model.latent_classes={classes}."
            )
        G.set_class_counts(torch.bincount(labels, minlength=self.classes))  # (a CategoricalLatent)
        self.G = G

    def before_d(self, b: Batch) -> None:
        b.y_real, b.y_fake = b.real_labels, self.G.classes_of(b.z)


@TRICKS.register("conditional")
def build(cfg, loss) -> Trick | None:
    # (the schema requires model.latent_classes with it, and refuses it with packing or InfoGAN)
    if not cfg.model.get("conditional", False):
        return None
    spectral = cfg.model.get("d_norm", "batch") == "spectral"
    return Conditional(int(cfg.model.latent_classes), str(cfg.dataset.name), spectral)
