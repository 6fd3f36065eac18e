"""model=stylegan2 in training: its presets compose to the official configs and train, its training
pieces (path length, lazy R1 with the Adam correction, the EMA in images, style mixing) follow the
official formulas, a resume is exact, and gan-sample / gan-eval take truncation. The networks themselves
are checked against the official ones in tests/nets/test_stylegan2.py."""

from __future__ import annotations

import math

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.ema import ema_decay
from gan_cli.errors import ConfigError
from gan_cli.optim import build_optimizers, lazy_factors
from gan_cli.schema import check
from gan_cli.train import train
from gan_cli.tricks import Batch
from gan_cli.tricks.path_length import PathLength, path_lengths
from tests.helpers import FAST, assert_complete_run, assert_same, event_tags, make_cfg, run_cli

# a narrow StyleGAN2 on 32x32 fake images: every piece on, each lazy one due within the run
TINY = [
    "dataset=fake",
    "dataset.image_size=32",
    "dataset.channels=1",
    "model.nz=16",
    "model.w_dim=16",
    "model.channel_base=256",
    "model.channel_max=16",
    "train.batch_size=8",
    "train.ema_kimg=0.01",
    "loss.r1_every=2",
    "loss.pl_every=2",
]


@pytest.mark.parametrize(
    ("res", "batch", "base", "lr", "gamma", "ema"),
    [
        (32, 32, 16384, 0.0025, 0.0064, 10.0),
        (64, 32, 16384, 0.0025, 0.0256, 10.0),
        (256, 16, 16384, 0.0025, 0.8192, 5.0),
        (512, 8, 32768, 0.0025, 6.5536, 2.5),
        (1024, 4, 32768, 0.002, 52.4288, 1.25),
    ],
)
def test_the_auto_preset_is_the_official_auto_config(res, batch, base, lr, gamma, ema):
    """train.py's `auto` spec on one GPU: mb = max(min(min(4096 // res, 32), 64), 1), fmaps 0.5 below 512
    px, lr 0.002 from 1024 px, gamma 0.0002 res^2 / mb, ema mb * 10 / 32, 25,000 kimg."""
    cfg = make_cfg(["experiment=stylegan2", f"dataset.image_size={res}", "dataset.root=x"])
    m, lo, o, t = cfg.model, cfg.loss, cfg.optimizer, cfg.train
    assert (t.batch_size, m.channel_base, m.channel_max, m.map_layers, m.mbstd_group) == (
        batch,
        base,
        512,
        2,
        4,
    )
    assert o.lr == lr and list(o.betas) == [0.0, 0.99] and o.lazy_correction
    assert lo.r1_gamma == pytest.approx(gamma) and lo.r1_every == 16
    assert (lo.pl_weight, lo.pl_every, lo.pl_decay, lo.pl_batch_shrink) == (2.0, 4, 0.01, 2)
    assert t.ema_kimg == pytest.approx(ema) and t.ema_rampup == 0.05 and m.style_mixing == 0.9
    assert t.augment == "ada" and t.steps == 25_000_000 // batch
    assert m.d_architecture == "resnet" and cfg.dataset.name == "folder"


def test_the_cifar_preset_is_the_official_cifar_config():
    cfg = make_cfg(["experiment=stylegan2_cifar10"])
    m, lo, o, t = cfg.model, cfg.loss, cfg.optimizer, cfg.train
    assert (m.map_layers, m.channel_base, m.channel_max, m.mbstd_group) == (2, 32768, 512, 32)
    assert (m.d_architecture, m.style_mixing, lo.pl_weight) == ("orig", 0.0, 0.0)
    assert (t.batch_size, o.lr, list(o.betas), lo.r1_gamma, lo.r1_every) == (
        64,
        0.0025,
        [0.0, 0.99],
        0.01,
        16,
    )
    assert (t.ema_kimg, t.ema_rampup, t.augment) == (500.0, 0.05, "ada")
    assert t.steps * t.batch_size == 100_000_000  # 100,000 kimg


def test_stylegan2_keys_are_refused_for_other_models_and_checked():
    with pytest.raises(Exception, match="map_layers"):
        make_cfg(["model=dcgan", "model.map_layers=2"])
    for overrides, key in (
        (["model=dcgan", "loss.pl_weight=2"], "loss.pl_weight"),
        (["model=stylegan2", "model.mbstd_group=3", "train.batch_size=8"], "model.mbstd_group"),
        (["model=stylegan2", "model.style_mixing=1.5"], "model.style_mixing"),
        (["model=stylegan2", "model.d_architecture=skip"], "model.d_architecture"),
        (["model=stylegan2", "model.d_norm=spectral"], "model.d_norm"),
        (["model=stylegan2", "model.latent_classes=10", "model.info_weight=0.3"], "model.info_weight"),
        (["train.ema_kimg=-1"], "train.ema_kimg"),
        (["model=stylegan2", "loss.pl_batch_shrink=100", "train.batch_size=8"], "loss.pl_batch_shrink"),
    ):
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            check(make_cfg(overrides))


def test_ema_in_images_is_the_official_half_life_with_ramp_up():
    cfg = make_cfg(["train.ema_kimg=10", "train.ema_rampup=0.05"]).train
    batch = 32
    for step in (1, 2, 100, 10_000):
        cur_nimg = (step - 1) * batch  # images seen before this step
        ema_nimg = min(10 * 1000, cur_nimg * 0.05)
        assert ema_decay(cfg, step, batch) == pytest.approx(0.5 ** (batch / max(ema_nimg, 1e-8)))
    assert ema_decay(cfg, 1, batch) == 0.0  # G_ema starts as G
    plain = make_cfg([]).train  # ema_kimg 0: the decay with its warm-up, as before
    assert ema_decay(plain, 5, batch) == pytest.approx(min(0.999, 6 / 15))


def test_lazy_correction_scales_lr_and_betas_as_officially():
    cfg = make_cfg(
        ["model=stylegan2", "optimizer.lazy_correction=true", "optimizer.lr=0.0025"]
        + [
            "optimizer.betas=[0.0,0.99]",
            "loss.r1_gamma=1",
            "loss.r1_every=16",
            "loss.pl_weight=2",
            "loss.pl_every=4",
        ]
    )
    assert lazy_factors(cfg) == (4 / 5, 16 / 17)
    G, D = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    opt_g, opt_d = build_optimizers(cfg.optimizer, G, D, lazy_factors(cfg))
    assert opt_g.param_groups[0]["lr"] == pytest.approx(0.0025 * 4 / 5)
    assert opt_d.param_groups[0]["betas"] == pytest.approx((0.0, 0.99 ** (16 / 17)))
    off = make_cfg(["optimizer.lazy_correction=true", "loss.r1_gamma=0"])  # nothing lazy: no correction
    assert lazy_factors(off) == (1.0, 1.0)


def test_path_length_penalty_follows_the_official_formula():
    cfg = make_cfg(["experiment=stylegan2", *TINY, "model.style_mixing=0"])
    from gan_cli.models import build_models

    G, D = build_models(cfg, (1, 32, 32))
    trick = PathLength(weight=2.0, every=4, decay=0.01, shrink=2)
    trick.prepare(G, D, None)
    z = torch.randn(8, 16)
    torch.manual_seed(3)
    terms = trick.g_terms(Batch(1, 0, torch.zeros(8, 1, 32, 32), None, z), None)
    torch.manual_seed(3)  # the same noise: the same draws in the same order
    ws = G.map(z[:4]).detach().requires_grad_(True)
    img = G.synthesis(ws)
    lengths = path_lengths(img, ws, torch.randn_like(img) / 32)
    mean = 0.01 * lengths.mean()
    expected = (lengths - mean).square().mean()
    assert terms["loss/path_length"].value == pytest.approx(expected.item(), rel=1e-4)
    assert terms["loss/path_length"].loss.item() == pytest.approx(expected.item() * 2 * 4, rel=1e-4)
    assert trick.pl_mean.item() == pytest.approx(mean.item(), rel=1e-4)
    idle = trick.g_terms(Batch(2, 0, torch.zeros(8, 1, 32, 32), None, z), None)["loss/path_length"]
    assert idle.loss is None and idle.value.item() == 0  # due every 4 G updates: steps 1, 5, 9, ...


@pytest.mark.slow
def test_stylegan2_trains_logs_and_resumes_bit_for_bit(tmp_path):
    base = ["experiment=stylegan2", *FAST, *TINY, "train.log_every=1", "train.ckpt_every=3"]
    full = tmp_path / "full"
    train(make_cfg([*base, "train.steps=6"]), full)
    summary, state, tags = assert_complete_run(full)
    assert {"loss/path_length", "loss/penalty", "augment/p"} <= set(tags["scalars"])
    assert state["tricks"]["path_length"]["pl_mean"].item() > 0
    part = tmp_path / "part"
    train(make_cfg([*base, "train.steps=3"]), part)
    train(make_cfg([*base, "train.steps=6", f"resume={part}"]), tmp_path / "x")
    a, b = (checkpoint.load(r / "checkpoints" / "last.pt") for r in (full, part))
    assert_same(a, b)  # weights, Adam, w_avg, pl_mean, ADA's p, G_ema, RNG: all carried over


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["stylegan2_cifar10", "stylegan2_mnist"])
def test_the_presets_train_a_few_steps(tmp_path, preset):
    """Each preset as it is (its own widths and batch), on fake images of its dataset's shape."""
    channels, size = (3, 32) if preset == "stylegan2_cifar10" else (1, 32)
    narrow = ["model.channel_base=512", "model.channel_max=32"] if preset == "stylegan2_cifar10" else []
    overrides = [
        f"experiment={preset}",
        "dataset=fake",
        f"dataset.channels={channels}",
        f"dataset.image_size={size}",
    ]
    cfg = make_cfg(
        [
            *overrides,
            *narrow,
            "train.steps=2",
            "train.log_every=1",
            "train.sample_every=0",
            "train.num_samples=16",
        ]
    )
    summary = train(cfg, tmp_path / preset)
    assert summary["status"] == "completed" and math.isfinite(summary["loss_D"])


@pytest.mark.slow
def test_conditional_stylegan2_samples_the_asked_class_and_truncates(tmp_path):
    from tests.helpers import two_class_folder

    two_class_folder(tmp_path / "imgs", n=16)
    run = tmp_path / "run"
    overrides = ["experiment=stylegan2", *FAST, *TINY, "dataset=folder", f"dataset.root={tmp_path / 'imgs'}"]
    overrides += ["dataset.channels=1", "model.conditional=true", "model.latent_classes=2"]
    train(make_cfg(overrides), run)
    state = checkpoint.load(run / "checkpoints" / "last.pt")
    assert any(k.startswith("mapping.embed") for k in state["D"])  # D's own label mapping, no Projection
    assert not any("embed.weight" == k.split("D.")[-1] for k in state["D"])
    for extra in (["truncation=0.5", "noise=const", "label=1"], ["truncation=1", "noise=none"]):
        res = run_cli(["gan-sample", f"run={run}", "num=8", f"out={tmp_path / 's.png'}", *extra], tmp_path)
        assert res.returncode == 0, res.stderr
    res = run_cli(
        ["gan-eval", f"run={run}", "num=64", "device=cpu", "inception=none", "truncation=0.7"], tmp_path
    )
    assert res.returncode == 0, res.stderr
    import json

    assert json.loads((run / "eval.json").read_text())["truncation"] == 0.7


def test_truncation_is_refused_for_a_model_without_w(tmp_path):
    from tests.helpers import SMALL_DCGAN

    run = tmp_path / "run"
    train(make_cfg([*FAST, *SMALL_DCGAN, "recipe=none", "train.steps=1"]), run)
    res = run_cli(
        ["gan-sample", f"run={run}", "num=4", f"out={tmp_path / 's.png'}", "truncation=0.7"], tmp_path
    )
    assert res.returncode != 0 and "truncation=0.7" in res.stderr and "stylegan2" in res.stderr
    assert "Traceback" not in res.stderr
    assert event_tags(run)  # the run is untouched
