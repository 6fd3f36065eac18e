"""engine/loop.py and step.py: few-step runs for every named option, what each leaves and logs."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.train import train
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    SMALL_MLP,
    assert_complete_run,
    assert_same,
    event_tags,
    fake_mnist,
    make_cfg,
    read_summary,
    train_run,
)


@pytest.mark.slow
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
    assert jsd == pytest.approx(jsd_recomputed(evaluated), rel=1e-4, abs=1e-6)


def jsd_recomputed(run_dir) -> float:
    """The JSD gauge at the last step, recomputed in numpy from the final checkpoint: (V + log 4) / 2 with
    V = mean log D(x) + mean log(1 - D(G(z))) on 1,024 real points (seed 1) and 1,024 samples of the raw
    G (seed 2), as gan-eval draws them."""
    import numpy as np

    from gan_cli.data import DATASETS
    from gan_cli.nets import generate
    from gan_cli.runs import load_run, raw_generator

    cpu = torch.device("cpu")
    _, D, cfg, ckpt = load_run(run_dir, cpu)
    G = raw_generator(cfg, ckpt, cpu)
    data = DATASETS.build(cfg.dataset, cfg.train.seed, cpu)
    real = data.sample_eval(1024, torch.Generator().manual_seed(1))
    fake = generate(G, cfg.model.nz, 1024, 2, cpu)
    with torch.no_grad():
        r, f = (D(x).logits.double().numpy() for x in (real, fake))
    log_d_real = -np.logaddexp(0, -r)  # log sigmoid(r)
    log_1m_d_fake = -np.logaddexp(0, f)  # log (1 - sigmoid(f))
    return float((log_d_real.mean() + log_1m_d_fake.mean() + math.log(4)) / 2)


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp"])
def test_every_loss_on_the_ring(tmp_path, loss):
    out, _ = train_run(tmp_path, ["dataset=ring", "model=mlp", f"loss={loss}", *SMALL_MLP])
    _, _, tags = assert_complete_run(out)
    assert ("loss/penalty" in tags["scalars"]) == (loss == "wgan-gp")


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp"])
def test_dcgan_losses_on_digits(tmp_path, loss):
    out, _ = train_run(tmp_path, [f"loss={loss}", "model.d_norm=layer", *SMALL_DCGAN])
    assert_complete_run(out)


@pytest.mark.slow
@pytest.mark.parametrize(
    "dataset_overrides",
    [
        ["dataset=digits", "dataset.image_size=8"],
        ["dataset=grid", "model=mlp"],
        ["dataset=fake", "dataset.image_size=16", "dataset.num_samples=40"],
        ["dataset=fake", "dataset.image_size=16", "model=mlp"],
    ],
)
def test_datasets_train(tmp_path, dataset_overrides):
    out, _ = train_run(tmp_path, [*dataset_overrides, *SMALL_DCGAN[:2], "model.nz=8"])
    assert_complete_run(out)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "sub"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_like_datasets_train(tmp_path, name, sub):
    fake_mnist(tmp_path / "data", sub)
    out, _ = train_run(tmp_path, [f"dataset={name}", f"dataset.root={tmp_path / 'data'}", *SMALL_DCGAN])
    _, state, _ = assert_complete_run(out)
    assert state["data_shape"] == [1, 28, 28]


@pytest.mark.slow
def test_folder_dataset_trains(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(10):
        Image.new("RGB", (20, 20), (25 * i, 0, 0)).save(tmp_path / "imgs" / f"{i}.png")
    out, _ = train_run(
        tmp_path,
        ["dataset=folder", f"dataset.root={tmp_path / 'imgs'}", "dataset.image_size=16", *SMALL_DCGAN],
    )
    _, state, _ = assert_complete_run(out)
    assert state["data_shape"] == [3, 16, 16]


@pytest.mark.slow
def test_d_steps_is_k_of_algorithm_1(tmp_path):
    out, summary = train_run(tmp_path, ["dataset=ring", "model=mlp", "train.d_steps=3", *SMALL_MLP])
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    # Adam counts its updates: k = 3 D updates for each of the 6 G updates.
    d_counts = {int(s["step"]) for s in state["opt_d"]["state"].values()}
    g_counts = {int(s["step"]) for s in state["opt_g"]["state"].values()}
    assert d_counts == {18} and g_counts == {6}


@pytest.mark.slow
def test_same_seed_same_run_other_seed_other_run(tmp_path):
    base = ["dataset=ring", "model=mlp", *SMALL_MLP]
    a, _ = train_run(tmp_path, [*base, "train.seed=5"], "a")
    b, _ = train_run(tmp_path, [*base, "train.seed=5"], "b")
    c, _ = train_run(tmp_path, [*base, "train.seed=6"], "c")
    ga, gb, gc = (checkpoint.load(p / "checkpoints" / "last.pt")["G"] for p in (a, b, c))
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    assert not all(torch.equal(ga[k], gc[k]) for k in ga)


@pytest.mark.slow
def test_ema_switch(tmp_path):
    on, _ = train_run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP], "on")
    off, _ = train_run(tmp_path, ["dataset=ring", "model=mlp", "train.ema=false", *SMALL_MLP], "off")
    s_on, s_off = (checkpoint.load(p / "checkpoints" / "last.pt") for p in (on, off))
    assert s_off["G_ema"] is None
    assert s_on["G_ema"] is not None
    assert not all(torch.equal(s_on["G_ema"][k], s_on["G"][k]) for k in s_on["G"])  # it averages


@pytest.mark.slow
def test_logging_and_checkpoint_cadence(tmp_path):
    out, _ = train_run(
        tmp_path,
        [
            "dataset=ring",
            "model=mlp",
            "train.steps=7",
            "train.log_every=3",
            "train.sample_every=2",
            *SMALL_MLP,
        ],
    )
    tags = event_tags(out)
    assert [e.step for e in tags["_acc"].Scalars("loss/D")] == [3, 6, 7]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step_000002.png",
        "step_000004.png",
        "step_000006.png",
        "step_000007.png",
    ]
    assert all(math.isfinite(e.value) for e in tags["_acc"].Scalars("loss/G"))


@pytest.mark.slow
def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path):
    # SGD with momentum at rate 1 on WGAN's unclipped critic overflows after a few steps.
    out = tmp_path / "run"
    overrides = [
        "dataset=ring",
        "model=mlp",
        "loss=wgan",
        "loss.clip=1e30",
        "optimizer=sgd",
        "optimizer.lr=1",
        "optimizer.momentum=0.9",
        "train.steps=40",
        "train.log_every=1",
        "train.ckpt_every=1",
        *SMALL_MLP,
    ]
    summary = train(make_cfg(FAST + overrides), out)
    assert summary["status"] == "diverged" and 1 < summary["step"] < 40
    assert read_summary(out)["status"] == "diverged"
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    assert state["step"] < summary["step"]
    assert all(torch.isfinite(v).all() for v in state["G"].values())


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes_with_its_scaler(tmp_path, precision):
    base = ["dataset=ring", "model=mlp", *SMALL_MLP, f"train.precision={precision}", "loss=wgan-gp"]
    out, _ = train_run(tmp_path, base)
    _, state, tags = assert_complete_run(out)
    assert "loss/penalty" in tags["scalars"]
    if precision == "fp16":  # the scalers' state is saved (tests/engine/test_resume.py: resumed bit for bit)
        assert {"scale", "_growth_tracker"} <= state["scalers"]["d"].keys()
    summary = train(make_cfg([*FAST, *base, "train.steps=9", f"resume={out}"]), tmp_path / "x")
    assert summary["status"] == "completed" and summary["step"] == 9


@pytest.mark.slow
def test_bf16_dcgan_with_channels_last(tmp_path):
    out, _ = train_run(tmp_path, ["train.precision=bf16", "train.channels_last=true", *SMALL_DCGAN])
    _, state, _ = assert_complete_run(out)
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    assert state["G"]["G.main.0.weight"].dtype == torch.float32  # fp32 weights under autocast
