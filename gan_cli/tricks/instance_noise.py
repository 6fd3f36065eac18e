"""Instance noise (Sonderby et al. 2016; Arjovsky and Bottou 2017), train.instance_noise > 0."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gan_cli.tricks.base import TRICKS, Trick


def noise_std(start: float, until: float, step: int, steps: int) -> float:
    """Std of the Gaussian noise added to every input of D at `step`: `start`, falling linearly to 0 at
    `until` (a fraction) of `steps`. Early on D sees both distributions blurred, so its gradients balance
    G's mass between distant modes; the fine structure comes later."""
    return start * max(0.0, 1.0 - (step - 1) / (until * steps))


class InstanceNoise(Trick):
    name = "instance_noise"

    def __init__(self, start: float, until: float, steps: int) -> None:
        self.start, self.until, self.steps = start, until, steps

    def view(self, x: Tensor, step: int) -> Tensor:
        sigma = noise_std(self.start, self.until, step, self.steps)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> float:
        return noise_std(self.start, self.until, step, self.steps)  # new every step until it reaches 0


@TRICKS.register("instance_noise")
def build(cfg, loss) -> Trick | None:
    t = cfg.train
    start = float(t.get("instance_noise", 0.0))
    return InstanceNoise(start, float(t.instance_noise_until), int(t.steps)) if start > 0 else None
