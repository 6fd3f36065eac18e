"""Training statistics reported by name from anywhere in the step, summed on the device and read once per
log interval (one host sync), in the manner of StyleGAN3's training_stats."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gan_cli.engine.distributed import Dist


class Stats:
    """`add({"loss/D": t, ...})` each step; `read()` gives the means since the last read and starts over."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.sums: Tensor | None = None
        self.count = self.skipped = 0

    def add(self, values: dict[str, Tensor] | None) -> None:
        """One step's statistics; None counts a step that fp16 loss scaling skipped (amp/skipped_steps)."""
        if values is None:
            self.skipped += 1
            return
        if not self.names:
            self.names = list(values)
        elif list(values) != self.names:  # every step reports the same names (a trick's zero when idle)
            raise ValueError(f"a step reported {list(values)}, earlier steps {self.names}")
        with torch.no_grad():
            stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
            self.sums = stacked if self.sums is None else self.sums + stacked
        self.count += 1

    def reduce_(self, d: Dist) -> None:
        """Average the sums over data-parallel ranks, so every rank judges the same numbers."""
        if self.sums is not None:
            d.mean_(self.sums)

    def finite(self) -> bool:
        """Whether everything summed since the last read is finite (a host sync)."""
        return self.sums is None or bool(torch.isfinite(self.sums).all())

    def read(self) -> dict[str, float]:
        """{name: mean since the last read} (one host sync), then start over."""
        means = (
            {} if self.sums is None else dict(zip(self.names, (self.sums / self.count).tolist(), strict=True))
        )
        if self.skipped:
            means["amp/skipped_steps"] = float(self.skipped)
        self.sums, self.count, self.skipped = None, 0, 0
        return means


def all_finite(values: dict[str, float]) -> bool:
    return all(math.isfinite(v) for v in values.values())
