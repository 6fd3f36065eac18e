"""The benchmark's reference loop really trains (a broken reference would make every ratio meaningless)."""

from __future__ import annotations

import torch

from benchmarks.reference import SigmoidD, reference_steps
from gan_cli.data import DATASETS
from gan_cli.nets import MODELS
from tests.conftest import SMALL_MLP, make_cfg


def test_reference_loop_updates_both_networks():
    cfg = make_cfg(["dataset=ring", "model=mlp", *SMALL_MLP])
    data = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    G, D = MODELS.build(cfg.model, data.shape)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    seconds = reference_steps(G, SigmoidD(D), lambda: data.next(16), cfg.model.nz, 3)
    after = list((*G.parameters(), *D.parameters()))
    assert seconds > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))
