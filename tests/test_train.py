"""Few-step CPU runs of train(cfg, out_dir) for every named option: what each run leaves and logs."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError, UserError
from gan_cli.train import train
from tests.conftest import FAST, SMALL_DCGAN, SMALL_MLP, event_tags, make_cfg, read_summary
from tests.test_data import fake_mnist

SCALARS = {"loss/D", "loss/G", "D/real", "D/fake", "lr/G", "lr/D", "perf/images_per_sec"}


def run(tmp_path, overrides, name="run"):
    out = tmp_path / name
    summary = train(make_cfg(FAST + overrides), out)
    return out, summary


def assert_complete_run(out, steps=6):
    summary = read_summary(out)
    assert summary["status"] == "completed" and summary["step"] == steps
    for key in ("loss_D", "loss_G", "images_per_sec", "wall_time_sec"):
        assert math.isfinite(summary[key])
    assert summary["images_per_sec"] > 0
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    assert state["step"] == steps and isinstance(state["step"], int)
    tags = event_tags(out)
    assert SCALARS <= set(tags["scalars"])
    assert any("samples" in tag for tag in tags["images"])
    assert list((out / "samples").glob("step_*.png"))
    return summary, state, tags


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp"])
def test_every_loss_on_the_ring(tmp_path, loss):
    out, _ = run(tmp_path, ["dataset=ring", "model=mlp", f"loss={loss}", *SMALL_MLP])
    _, _, tags = assert_complete_run(out)
    assert ("loss/penalty" in tags["scalars"]) == (loss == "wgan-gp")


@pytest.mark.parametrize("loss", ["lsgan", "wgan-gp"])
def test_dcgan_losses_on_digits(tmp_path, loss):
    out, _ = run(tmp_path, [f"loss={loss}", "model.d_norm=layer", *SMALL_DCGAN])
    assert_complete_run(out)


def test_wgan_clips_critic_weights(tmp_path):
    out, _ = run(tmp_path, ["dataset=ring", "model=mlp", "loss=wgan", "loss.clip=0.02", *SMALL_MLP])
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    weights = [v for k, v in state["D"].items() if v.is_floating_point()]
    assert max(w.abs().max().item() for w in weights) <= 0.02 + 1e-7


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
    out, _ = run(tmp_path, [*dataset_overrides, *SMALL_DCGAN[:2], "model.nz=8"])
    assert_complete_run(out)


@pytest.mark.parametrize(("name", "sub"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_like_datasets_train(tmp_path, name, sub):
    fake_mnist(tmp_path / "data", sub)
    out, _ = run(tmp_path, [f"dataset={name}", f"dataset.root={tmp_path / 'data'}", *SMALL_DCGAN])
    _, state, _ = assert_complete_run(out)
    assert state["data_shape"] == [1, 28, 28]


def test_folder_dataset_trains(tmp_path):
    from PIL import Image

    (tmp_path / "imgs").mkdir()
    for i in range(10):
        Image.new("RGB", (20, 20), (25 * i, 0, 0)).save(tmp_path / "imgs" / f"{i}.png")
    out, _ = run(
        tmp_path,
        ["dataset=folder", f"dataset.root={tmp_path / 'imgs'}", "dataset.image_size=16", *SMALL_DCGAN],
    )
    _, state, _ = assert_complete_run(out)
    assert state["data_shape"] == [3, 16, 16]


def test_experiment_preset_is_seed_004_recipe(tmp_path):
    cfg = make_cfg(["experiment=mnist_dcgan_lsgan"])
    assert (cfg.dataset.name, cfg.model.name, cfg.loss.name, cfg.optimizer.name) == (
        "mnist",
        "dcgan",
        "lsgan",
        "adam",
    )
    assert cfg.train.batch_size == 128 and cfg.optimizer.betas[0] == 0.5 and cfg.dataset.image_size == 28
    fake_mnist(tmp_path / "data")
    overrides = ["experiment=mnist_dcgan_lsgan", f"dataset.root={tmp_path / 'data'}", "train.steps=2"]
    out = tmp_path / "run"
    train(make_cfg(FAST + overrides), out)
    assert read_summary(out)["step"] == 2


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_optimizers_and_ttur(tmp_path, optimizer):
    out, _ = run(
        tmp_path,
        [
            "dataset=ring",
            "model=mlp",
            f"optimizer={optimizer}",
            "optimizer.lr_d=4e-4",
            "optimizer.lr_g=1e-4",
            *SMALL_MLP,
        ],
    )
    _, state, tags = assert_complete_run(out)
    assert state["opt_g"]["param_groups"][0]["lr"] == 1e-4
    assert state["opt_d"]["param_groups"][0]["lr"] == 4e-4
    lr_g = tags["_acc"].Scalars("lr/G")[-1].value
    assert lr_g == pytest.approx(1e-4)


def test_optimizer_lr_sets_both_networks_and_betas_split(tmp_path):
    out, _ = run(
        tmp_path,
        ["dataset=ring", "model=mlp", "optimizer.lr=3e-4", "optimizer.betas_d=[0.0,0.9]", *SMALL_MLP],
    )
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    g, d = state["opt_g"]["param_groups"][0], state["opt_d"]["param_groups"][0]
    assert g["lr"] == d["lr"] == 3e-4
    assert list(g["betas"]) == [0.5, 0.999] and list(d["betas"]) == [0.0, 0.9]


def test_the_digits_recipe_s_d_rate_follows_optimizer_lr():
    """digits sets D's rate to half of optimizer.lr: lr and its sweeps still move both networks."""
    assert make_cfg([]).optimizer.lr_d == pytest.approx(1e-4)
    assert make_cfg(["optimizer.lr=1e-3"]).optimizer.lr_d == pytest.approx(5e-4)
    assert make_cfg(["optimizer.lr=1e-3", "optimizer.lr_d=3e-4"]).optimizer.lr_d == pytest.approx(3e-4)
    assert make_cfg(["optimizer.lr_d=null"]).optimizer.lr_d is None  # the plain DCGAN: both at lr
    assert make_cfg(["dataset=ring"]).optimizer.lr_d is None


def test_d_steps_is_k_of_algorithm_1(tmp_path):
    out, summary = run(tmp_path, ["dataset=ring", "model=mlp", "train.d_steps=3", *SMALL_MLP])
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    # Adam counts its updates: k = 3 D updates for each of the 6 G updates.
    d_counts = {int(s["step"]) for s in state["opt_d"]["state"].values()}
    g_counts = {int(s["step"]) for s in state["opt_g"]["state"].values()}
    assert d_counts == {18} and g_counts == {6}


def test_same_seed_same_run_other_seed_other_run(tmp_path):
    base = ["dataset=ring", "model=mlp", *SMALL_MLP]
    a, _ = run(tmp_path, [*base, "train.seed=5"], "a")
    b, _ = run(tmp_path, [*base, "train.seed=5"], "b")
    c, _ = run(tmp_path, [*base, "train.seed=6"], "c")
    ga, gb, gc = (checkpoint.load(p / "checkpoints" / "last.pt")["G"] for p in (a, b, c))
    assert all(torch.equal(ga[k], gb[k]) for k in ga)
    assert not all(torch.equal(ga[k], gc[k]) for k in ga)


def test_ema_switch(tmp_path):
    on, _ = run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP], "on")
    off, _ = run(tmp_path, ["dataset=ring", "model=mlp", "train.ema=false", *SMALL_MLP], "off")
    s_on, s_off = (checkpoint.load(p / "checkpoints" / "last.pt") for p in (on, off))
    assert s_off["G_ema"] is None
    assert s_on["G_ema"] is not None
    assert not all(torch.equal(s_on["G_ema"][k], s_on["G"][k]) for k in s_on["G"])  # it averages


def test_logging_and_checkpoint_cadence(tmp_path):
    out, _ = run(
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


def test_bad_values_are_refused_naming_the_key(tmp_path):
    for override, key in [
        ("optimizer.lr=-1", "optimizer.lr"),
        ("train.batch_size=0", "train.batch_size"),
        ("train.d_steps=0", "train.d_steps"),
        ("train.device=tpu", "train.device"),
        ("dataset.channels=2", "dataset.channels"),
        ("optimizer.betas=[0.5]", "optimizer.betas"),
    ]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            train(make_cfg([override]), tmp_path / "never")
    assert not (tmp_path / "never").exists()  # refused before anything was written


def test_an_existing_run_is_never_overwritten(tmp_path):
    out, _ = run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP])
    before = (out / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(UserError, match="refusing to overwrite"):
        run(tmp_path, ["dataset=ring", "model=mlp", *SMALL_MLP])
    assert (out / "checkpoints" / "last.pt").read_bytes() == before


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


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_asking_for_cuda_without_it_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no CUDA device"):
        train(make_cfg([*FAST, "train.device=cuda"]), tmp_path / "run")


def test_auto_device_is_cuda_when_available(tmp_path):
    from gan_cli.train import resolve_device

    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_and_resumes_with_its_scaler(tmp_path, precision):
    base = ["dataset=ring", "model=mlp", *SMALL_MLP, f"train.precision={precision}", "loss=wgan-gp"]
    out, _ = run(tmp_path, base)
    _, state, tags = assert_complete_run(out)
    assert "loss/penalty" in tags["scalars"]
    if precision == "fp16":  # the gradient scalers are part of the exact state
        assert state["scalers"]["d"]["scale"] > 0 and state["scalers"]["g"]["_growth_tracker"] >= 0
    summary = train(make_cfg([*FAST, *base, "train.steps=9", f"resume={out}"]), tmp_path / "x")
    assert summary["status"] == "completed" and summary["step"] == 9


def test_bf16_dcgan_with_channels_last(tmp_path):
    out, _ = run(tmp_path, ["train.precision=bf16", "train.channels_last=true", *SMALL_DCGAN])
    _, state, _ = assert_complete_run(out)
    assert all(torch.isfinite(v).all() for v in state["G"].values() if v.is_floating_point())
    assert state["G"]["G.main.0.weight"].dtype == torch.float32  # fp32 weights under autocast
