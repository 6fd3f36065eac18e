"""DiffAugment (Zhao et al. 2020), train.diffaug: every image D sees, real or generated, is augmented."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from gan_cli.augment import DiffAugment
from gan_cli.errors import ConfigError
from gan_cli.tricks.base import TRICKS, Trick


class Augment(Trick):
    name = "diffaug"

    def __init__(self, policy: list[str], dataset: str) -> None:
        self.augment, self.policy, self.dataset = DiffAugment(policy), policy, dataset

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        if data.kind != "image":
            raise ConfigError(
                f"train.diffaug={self.policy} augments images, but dataset={self.dataset} gives points. "
                "Leave train.diffaug empty for the 2-D datasets."
            )

    def view(self, x: Tensor, step: int) -> Tensor:
        return self.augment(x)


@TRICKS.register("diffaug")
def build(cfg, loss) -> Trick | None:
    policy = [str(p) for p in cfg.train.get("diffaug", [])]
    return Augment(policy, str(cfg.dataset.name)) if policy else None
