"""Metrics against cases with known answers, and evaluation that never perturbs training."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.data import DATASETS
from gan_cli.metrics import jsd_estimate, mixture_metrics
from gan_cli.train import train
from tests.conftest import FAST, SMALL_DCGAN, SMALL_MLP, event_tags, make_cfg, run_cli
from tests.test_resume import assert_same

RING = ["dataset=ring", "model=mlp", *SMALL_MLP]


def mixture(name: str):
    return DATASETS.build(make_cfg([f"dataset={name}"]).dataset, 0, torch.device("cpu"))


@pytest.mark.parametrize(("name", "modes"), [("ring", 8), ("grid", 25)])
def test_a_perfect_sampler_scores_like_the_true_distribution(name, modes):
    data = mixture(name)
    m = mixture_metrics(data.sample_eval(20000, torch.Generator().manual_seed(1)), data.centers, data.std)
    assert m["modes"] == modes
    # P(|x - mu| <= 3 sigma) for a 2-D Gaussian is 1 - exp(-9/2) = 0.9889 (PacGAN's "about 98.9%")
    assert m["high_quality"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert m["reverse_kl"] < 0.01


def test_collapsed_and_partial_samplers():
    data = mixture("ring")
    collapsed = data.centers[3].repeat(2500, 1)
    m = mixture_metrics(collapsed, data.centers, data.std)
    assert (m["modes"], m["high_quality"]) == (1, 1.0)
    assert m["reverse_kl"] == pytest.approx(math.log(8))
    half = data.centers[torch.arange(2500) % 4]  # 4 of the 8 modes, equally
    m = mixture_metrics(half, data.centers, data.std)
    assert m["modes"] == 4 and m["reverse_kl"] == pytest.approx(math.log(2))
    far = torch.full((100, 2), 10.0)
    m = mixture_metrics(far, data.centers, data.std)
    assert (m["modes"], m["high_quality"], m["reverse_kl"]) == (0, 0.0, None)


def test_jsd_estimate_is_the_jsd_at_the_optimal_discriminator():
    p = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64)
    q = torch.tensor([0.1, 0.3, 0.6], dtype=torch.float64)
    logit_star = torch.log(p / q)  # sigmoid(log(p/q)) = p / (p + q) = D*
    real = logit_star[torch.repeat_interleave(torch.arange(3), (p * 1000).long())]
    fake = logit_star[torch.repeat_interleave(torch.arange(3), (q * 1000).long())]
    m = (p + q) / 2
    jsd = 0.5 * (p * (p / m).log()).sum() + 0.5 * (q * (q / m).log()).sum()
    assert jsd_estimate(real, fake) == pytest.approx(jsd.item(), abs=1e-9)
    assert jsd_estimate(torch.zeros(5), torch.zeros(5)) == pytest.approx(0.0, abs=1e-12)  # D = 1/2


def test_evaluating_during_training_changes_nothing_in_the_training(tmp_path):
    base = [*FAST, *RING, "train.steps=12", "train.ckpt_every=6"]
    plain = tmp_path / "plain"
    train(make_cfg(base), plain)
    evaluated = tmp_path / "evaluated"
    train(make_cfg([*base, "train.eval_every=4"]), evaluated)
    a, b = (checkpoint.load(run / "checkpoints" / "last.pt") for run in (plain, evaluated))
    assert a.pop("config")["train"]["eval_every"] == 0 and b.pop("config")["train"]["eval_every"] == 4
    assert_same(a, b)  # models, optimizers, data order, RNG states: all bit for bit
    tags = event_tags(evaluated)
    # (reverse_kl is undefined, so not logged, until some point is high quality: not after 12 steps)
    for tag in ("metrics/modes", "metrics/high_quality", "metrics/jsd_estimate"):
        assert tag in tags["scalars"], tag
    assert [e.step for e in tags["_acc"].Scalars("metrics/modes")] == [4, 8, 12]
    jsd = tags["_acc"].Scalars("metrics/jsd_estimate")[-1].value
    assert -0.5 <= jsd <= math.log(2) + 1e-6  # bounded above by log 2


def test_no_jsd_gauge_for_losses_without_a_probability(tmp_path):
    out = tmp_path / "run"
    train(make_cfg([*FAST, *RING, "loss=hinge", "train.eval_every=3"]), out)
    scalars = set(event_tags(out)["scalars"])
    assert "metrics/modes" in scalars and "metrics/jsd_estimate" not in scalars


def test_gan_eval_writes_eval_json(tmp_path):
    run = tmp_path / "run"
    train(make_cfg([*FAST, *RING]), run)
    proc = run_cli(["gan-eval", f"run={run}", "num=500"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = json.loads((run / "eval.json").read_text())
    assert json.loads(proc.stdout) == written
    metrics = written["metrics"]
    assert 0 <= metrics["modes"] <= 8 and 0 <= metrics["high_quality"] <= 1
    assert metrics["num_samples"] == 500 and "jsd_estimate" in metrics
    assert "PacGAN" in written["how"]["modes, high_quality, reverse_kl"]


def test_gan_eval_errors(tmp_path):
    unlabelled = tmp_path / "img"  # random images: no labels for the classifier, no Inception weights
    train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "dataset.image_size=8"]), unlabelled)
    for args, must_say in (
        (["run=/no/such/run"], "/no/such/run"),
        ([f"run={unlabelled}"], "no class labels"),
        ([f"run={unlabelled}", "inception=/no/such/weights.pth"], "no such file"),
        ([], "run="),
    ):
        proc = run_cli(["gan-eval", *args], cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert must_say in proc.stderr
