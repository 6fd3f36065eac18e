"""Training-time parts of G's learned output points (mlp with model.g_atoms; gan_cli/nets/mlp.py AtomOutput).

model.g_atoms_balance > 0: G's loss adds balance * (log K - I(latent; point)) over the batch, that is
KL(the batch's mean softmax weights || uniform) plus the mean entropy of each sample's weights (as
mixture-of-experts layers balance their experts' load, Shazeer et al. 2017, and as IMSAT-style clustering
keeps clusters both used and confident). Without it the softmax soon routes every latent to the few points
D liked first; the others get no gradient and never move to the modes that lack samples. The first half
alone is met by blurred weights that put every sample between points; the second keeps each on one.

model.g_atoms_hard > 0: over that last fraction of training each sample takes its heaviest point alone
(straight-through: the softmax's gradient), as G then samples. Hard from the start fails (measured: D wins
at once, no mode is found); after the soft phase the points sit on the data and the switch only removes
the samples left between points. The balance term stays on in the hard phase: without it, or with its
entropy part alone, G came apart within a few thousand steps (measured, docs/results.md).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from torch import nn

from gan_cli.nets.mlp import AtomOutput, SnapOutput
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


class Atoms(Trick):
    name = "atoms"

    def __init__(self, balance: float, hard_from: int | None) -> None:
        self.balance, self.hard_from = balance, hard_from  # hard_from: the first hard step, or None
        self.layer: AtomOutput | None = None
        self.snap: SnapOutput | None = None

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        self.layer = next(m for m in G.modules() if isinstance(m, AtomOutput))
        self.layer.measure = self.balance > 0  # the layer computes the term only when it is asked for
        self.snap = next((m for m in G.modules() if isinstance(m, SnapOutput)), None)

    def hard(self, step: int) -> bool:
        return self.hard_from is not None and step >= self.hard_from

    def before_d(self, b: Batch) -> None:
        self.layer.hard = self.hard(b.step)

    def g_terms(self, b: Batch, run) -> dict[str, Term]:
        if not self.balance:
            return {}
        value = self.layer.imbalance  # from the forward pass that made b.fake, whose graph G's loss reads
        loss = self.balance * value
        if self.snap is not None and self.snap.on:  # D no longer trains G's points: the term alone would
            return {"loss/atom_balance": Term(None, value.detach())}  # move them, so it is only logged
        return {"loss/atom_balance": Term(loss, value.detach())}  # in the hard phase too (see above)

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> Hashable:
        return self.hard(step)


@TRICKS.register("atoms")
def build(cfg, loss) -> Trick | None:
    balance = float(cfg.model.get("g_atoms_balance", 0.0))
    hard = float(cfg.model.get("g_atoms_hard", 0.0))
    if not (balance > 0 or hard > 0):
        return None
    steps = int(cfg.train.steps)
    return Atoms(balance, steps - round(hard * steps) + 1 if hard > 0 else None)
