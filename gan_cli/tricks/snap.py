"""Setting G's snap points (mlp with model.g_snap; gan_cli/nets/mlp.py SnapOutput).

At the first step of the last model.g_snap_last of training, the points are set to G's own outputs on
model.g_snap fresh latents (no real data is read), and from then on, and when G samples afterwards, each
sample is the point nearest to G's output. A weight average of G (train.ema) gets the same points at once,
rather than averaging its way to them from zero. A resumed run finds the points set in its checkpoint.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch
from torch import nn

from gan_cli.nets import latent
from gan_cli.nets.mlp import SNAP_SCALE, SnapOutput
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


class Snap(Trick):
    name = "snap"

    def __init__(self, points: int, from_step: int, seed: int) -> None:
        self.count, self.from_step, self.seed = points, from_step, seed
        self.G: nn.Module | None = None
        self.layer: SnapOutput | None = None
        self.fresh = False  # set this step: G_ema still to be given the points

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        self.G = G
        self.layer = next(m for m in G.modules() if isinstance(m, SnapOutput))

    def before_d(self, b: Batch) -> None:
        if self.layer.on or b.step < self.from_step:
            return
        with torch.no_grad():
            # the same latents on every process of a data-parallel run, so that all set the same points
            draw = torch.Generator(b.z.device).manual_seed(self.seed * 1_000_003 + b.step)
            z = latent(self.count, b.z.shape[1], b.z.device, draw)
            outputs = self.G(z).reshape(self.count, -1)  # G as it trains (batch statistics in BN)
        self.layer.set_points(outputs)
        self.fresh = True

    def g_terms(self, b: Batch, run) -> dict[str, Term]:
        if self.fresh and run.G_ema is not None:
            ema = next(m for m in run.G_ema.modules() if isinstance(m, SnapOutput))
            ema.set_points(SNAP_SCALE * self.layer.points.detach())
        self.fresh = False
        return {}

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> Hashable:
        return step >= self.from_step


@TRICKS.register("snap")
def build(cfg, loss) -> Trick | None:
    points = int(cfg.model.get("g_snap", 0))
    if not points:
        return None
    steps = int(cfg.train.steps)
    last = float(cfg.model.get("g_snap_last", 0.25))
    return Snap(points, steps - round(last * steps) + 1, int(cfg.train.seed))
