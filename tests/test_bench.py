"""benchmarks/bench.py and reference.py: the reference loop trains, every variant measures."""

from __future__ import annotations

import pytest
import torch

from benchmarks.reference import SigmoidD, reference_steps
from gan_cli.data import DATASETS
from gan_cli.nets import MODELS
from tests.helpers import (
    SMALL_MLP,
    make_cfg,
)


def test_reference_loop_updates_both_networks():
    cfg = make_cfg(["dataset=ring", "model=mlp", *SMALL_MLP])
    data = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    G, D = MODELS.build(cfg.model, data.shape)
    before = [p.detach().clone() for p in (*G.parameters(), *D.parameters())]
    seconds = reference_steps(G, SigmoidD(D), lambda: data.next(16), cfg.model.nz, 3)
    after = list((*G.parameters(), *D.parameters()))
    assert seconds > 0
    assert all(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


@pytest.mark.slow
def test_every_variant_of_the_bench_measures(monkeypatch):
    """Each variant `make bench` runs, on a tiny workload (the compiled one in the slow test below)."""
    from benchmarks import bench

    monkeypatch.setitem(bench.WORKLOADS, "tiny", (["dataset=ring", "model=mlp", *SMALL_MLP], 3))
    for variant in bench.VARIANTS:
        result = bench.measure_one("tiny", variant)
        assert result["images_per_sec"] > 0 and result["peak_rss_mb"] > 0
        if variant.startswith("reference"):
            assert result["flops_per_image"] > 0


@pytest.mark.slow
def test_the_compiled_variant_reports_its_steady_state(monkeypatch):
    from benchmarks import bench

    monkeypatch.setitem(bench.WORKLOADS, "tiny", (["dataset=ring", "model=mlp", *SMALL_MLP], 3))
    result = bench.measure_one("tiny", "gan-cli bf16 compiled")
    assert result["images_per_sec"] > 0 and result["first_half_sec"] > 0
