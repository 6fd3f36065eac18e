"""Top-k training (Sinha et al. 2020), loss.topk < 1: G learns only from the samples D rates most real."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor

from gan_cli.tricks.base import TRICKS, Trick


def topk_fraction(topk: float, step: int, steps: int) -> float:
    """The fraction of G's samples its loss keeps at `step`: from 1 down to `topk`, linearly over the first
    half of training (the paper anneals it too: early on every sample's gradient is useful)."""
    return 1.0 - (1.0 - topk) * min(1.0, 2 * step / steps)


class TopK(Trick):
    name = "topk"

    def __init__(self, topk: float) -> None:
        self.topk = topk

    def g_logits(self, fake_logits: Tensor, step: int, steps: int) -> Tensor:
        # the worst samples stop pulling G towards D's current blind spots
        return fake_logits.topk(self.kept(len(fake_logits), step, steps)).values

    def kept(self, n: int, step: int, steps: int) -> int:
        return max(1, math.ceil(topk_fraction(self.topk, step, steps) * n))

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> float:
        # annealed over the first half of training: the count kept changes every few hundred steps
        return self.kept(cfg.train.batch_size, step, int(cfg.train.steps))


@TRICKS.register("topk")
def build(cfg, loss) -> Trick | None:
    topk = float(cfg.loss.get("topk", 1.0))
    return TopK(topk) if topk < 1.0 else None
