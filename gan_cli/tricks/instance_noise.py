"""Instance noise (Sonderby et al. 2016; Arjovsky and Bottou 2017), train.instance_noise > 0."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gan_cli.tricks.base import TRICKS, Trick

GEOMETRIC_END = 0.01  # a geometric schedule ends at this fraction of its start, then stops


def noise_std(start: float, until: float, step: int, steps: int, schedule: str = "linear") -> float:
    """Std of the Gaussian noise added to every input of D at `step`: `start`, falling to 0 at `until`
    (a fraction) of `steps`, linearly or geometrically (to start / 100, spending as many steps on each
    halving of the noise, then 0). Early on D sees both distributions blurred, so its gradients balance
    G's mass between distant modes; the fine structure comes later."""
    progress = (step - 1) / (until * steps)
    if progress >= 1.0:
        return 0.0
    if schedule == "geometric":
        return start * GEOMETRIC_END**progress
    if schedule == "mixed":
        return start  # the largest std; each sample draws its own (InstanceNoise.view)
    return start * (1.0 - progress)


class InstanceNoise(Trick):
    name = "instance_noise"

    def __init__(self, start: float, until: float, steps: int, schedule: str = "linear") -> None:
        self.start, self.until, self.steps, self.schedule = start, until, steps, schedule

    def std(self, step: int) -> float:
        return noise_std(self.start, self.until, step, self.steps, self.schedule)

    def view(self, x: Tensor, step: int) -> Tensor:
        sigma = self.std(step)
        if sigma <= 0:
            return x
        if self.schedule == "mixed":  # per sample, log-uniform between start / 100 and start
            u = torch.rand((x.shape[0],) + (1,) * (x.dim() - 1), device=x.device, dtype=x.dtype)
            return x + sigma * GEOMETRIC_END**u * torch.randn_like(x)
        return x + sigma * torch.randn_like(x)

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> float:
        return self.std(step)  # new every step until it reaches 0


@TRICKS.register("instance_noise")
def build(cfg, loss) -> Trick | None:
    t = cfg.train
    start = float(t.get("instance_noise", 0.0))
    if start <= 0:
        return None
    return InstanceNoise(
        start, float(t.instance_noise_until), int(t.steps), t.get("instance_noise_schedule", "linear")
    )
