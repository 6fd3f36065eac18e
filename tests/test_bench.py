"""benchmarks/bench.py and reference.py: the reference loop trains, every variant measures."""

from __future__ import annotations

import re

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


def test_the_classic_examples_loops_train_on_the_cpu_too():
    """The two reference loops of the CUDA bench (batches on the device; FakeData through a DataLoader)."""
    from benchmarks.reference import loader_steps, on_device_steps

    assert on_device_steps(4, 2, torch.device("cpu")) > 0
    assert loader_steps(4, 2, torch.device("cpu"), workers=1) > 0


def test_the_cuda_table_names_the_gpu_and_sets_the_best_variant_beside_its_goal():
    from benchmarks import bench_cuda

    results = {
        "gpu": "NVIDIA H200",
        "torch": "2.11.0",
        "date": "2026-12-01",
        "workloads": {
            "dcgan64 fake b64": {
                "reference fp32": {"images_per_sec": 1000.0},
                "gan-cli fp32": {"images_per_sec": 3000.0},
                "gan-cli fp32 graph": {"images_per_sec": 5000.0},
            }
        },
        "jobs": {"ring8": {"train_time_sec": 12.0, "precision": "fp32", "cuda_graph": True}},
    }
    text = bench_cuda.table(results)
    assert "NVIDIA H200, torch 2.11.0" in text
    assert "| dcgan64 fake b64 | gan-cli fp32 graph | 5,000 | 5.00x | >= 40,000 |" in text
    assert "| dcgan64 fake b64 | gan-cli fp32 | 3,000 | 3.00x |  |" in text
    assert "| ring8 | training time (precision fp32, graph True) | 12.0 s |  | <= 15 s |" in text


@pytest.mark.slow
def test_the_stylegan2_rows_measure(monkeypatch):
    """Each StyleGAN2 variant on a tiny config; the official rows say why they are empty without the code."""
    from benchmarks import stylegan2

    tiny = (
        ["experiment=stylegan2_mnist", "dataset=fake", "dataset.image_size=32", "dataset.channels=1"]
        + ["model.channel_base=128", "model.channel_max=16", "model.nz=8", "model.w_dim=8"],
        dict(res=32, channels=1, z_dim=8, w_dim=8, map=2, base=128, cmax=16, arch="resnet", mbstd=4),
        8,
        2,
    )
    monkeypatch.setitem(stylegan2.CONFIGS, "tiny", tiny)
    for variant in stylegan2.VARIANTS:
        result = stylegan2.measure_one("tiny", variant)
        if variant.startswith("official"):
            assert "official" in result["skipped"]
        else:
            assert result["images_per_sec"] > 0


def test_the_stylegan2_probe_reports_variety(monkeypatch, tmp_path, capsys):
    """benchmarks/stylegan2_probe.py trains the preset, and with D taken from the DCGAN, and reports."""
    from benchmarks import stylegan2_probe
    from gan_cli import classifier
    from tests.helpers import fake_mnist

    fake_mnist(tmp_path, n=600)
    monkeypatch.setattr(stylegan2_probe, "MNIST_REAL", tmp_path)
    monkeypatch.setattr(classifier, "TRAIN_STEPS", 5)  # the judge's classifier: not what is tested here
    small = ["model.channel_base=64", "model.channel_max=8", "model.nz=8", "model.w_dim=8"]
    plain = stylegan2_probe.main(["--steps", "2", "--every", "1", *small, "train.batch_size=8"])
    mixed = stylegan2_probe.main(
        ["--steps", "1", "--every", "1", "--d-model", "dcgan", *small, "train.batch_size=8"]
    )
    assert type(plain.D).__name__ == "StyleGAN2Discriminator"
    assert type(mixed.D).__name__ == "DCGANDiscriminator" and type(mixed.G).__name__ == "StyleGAN2Generator"
    trained_by_opt_d = {id(p) for group in mixed.opt_d.param_groups for p in group["params"]}
    assert trained_by_opt_d == {id(p) for p in mixed.D.parameters()}  # the swapped D is the one trained
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"training digits: classes \d+, pixel spread [\d.]+, sample spread 1\.00", lines[0])
    steps = [line for line in lines if line.startswith("step")]
    assert [s.split()[1] for s in steps] == ["1", "2", "1"]
    assert all("classes" in s and "D(G(z))" in s for s in steps)
