"""The stabilising tricks the presets use: R1, the relativistic loss, PacGAN packing, the linear learning
rate decay, and the seeds' optimal discriminator D* as a gauge on 2-D data."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gan_cli import checkpoint
from gan_cli import metrics as M
from gan_cli.errors import ConfigError
from gan_cli.losses import build_loss
from gan_cli.nets import Packed, build_models, single
from gan_cli.penalties import R1Penalty
from gan_cli.schema import LossConfig, ModelConfig
from gan_cli.train import train
from tests.conftest import FAST, SMALL_DCGAN, SMALL_MLP, event_tags, group_cfg, make_cfg
from tests.test_eval import mixture
from tests.test_resume import assert_same

RING = ["dataset=ring", "model=mlp", *SMALL_MLP]


def test_r1_is_exact_for_a_linear_critic():
    # D(x) = w . x: grad = w at every real point, R1 = gamma / 2 * ||w||^2 (lazy: times `every`)
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    critic = lambda x: D(x).squeeze(1)  # noqa: E731
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert R1Penalty(0.1)(critic, real, fake).item() == pytest.approx(0.05 * 25)
    assert R1Penalty(0.1, every=4)(critic, real, fake).item() == pytest.approx(4 * 0.05 * 25)
    # only real points matter: a critic flat at the data but steep elsewhere has no R1
    bowl = lambda x: (x - real[:1]).pow(2).sum(1)  # noqa: E731
    assert R1Penalty(1.0)(bowl, real[:1], fake[:1]).item() == pytest.approx(0.0)


def test_r1_attaches_to_any_loss_but_not_beside_another_penalty():
    loss = build_loss(group_cfg(LossConfig, "hinge", r1_gamma=0.5, r1_every=2))
    assert isinstance(loss.penalty, R1Penalty) and (loss.penalty.weight, loss.penalty.every) == (0.5, 2)
    assert build_loss(group_cfg(LossConfig, "hinge")).penalty is None
    with pytest.raises(ConfigError, match="r1_gamma"):
        build_loss(group_cfg(LossConfig, "wgan-gp", r1_gamma=0.5))


def test_relativistic_average_loss_closed_forms():
    loss = build_loss(group_cfg(LossConfig, "ragan"))
    same = torch.zeros(5)
    # real and fake equally realistic: each term is -log sigmoid(0) = log 2
    assert loss.d_loss(same, same).item() == pytest.approx(2 * math.log(2))
    assert loss.g_loss(same, same).item() == pytest.approx(2 * math.log(2))
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 1.0])  # means 3 and 0
    expected_d = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-4))) / 2 + (
        math.log1p(math.exp(-4)) + math.log1p(math.exp(-2))
    ) / 2
    assert loss.d_loss(real, fake).item() == pytest.approx(expected_d)
    assert loss.g_loss(fake, real).item() == pytest.approx(loss.d_loss(fake, real).item())
    assert loss.g_needs_real
    with pytest.raises(ValueError):
        loss.g_loss(fake)


def test_packed_discriminator_sees_consecutive_samples_side_by_side():
    cfg = group_cfg(ModelConfig, "mlp", nz=4, g_hidden=8, d_hidden=8, pac=3)
    G, D = build_models(cfg, (2,))
    assert isinstance(D, Packed) and D.D.net[1].linear.in_features == 6
    x = torch.randn(6, 2)
    assert torch.equal(D(x), D.D(torch.cat([x[0:3].flatten()[None], x[3:6].flatten()[None]])))
    with pytest.raises(ValueError, match="multiple"):
        D(torch.randn(4, 2))
    assert torch.equal(single(D, x[:2]), D.D(x[:2].repeat_interleave(3, 0).reshape(2, 6)))
    _, Dimg = build_models(group_cfg(ModelConfig, "dcgan", ngf=8, ndf=8, nz=8, pac=2), (3, 16, 16))
    assert Dimg(torch.randn(4, 3, 16, 16)).shape == (2,)
    G1, D1 = build_models(group_cfg(ModelConfig, "mlp", nz=4, g_hidden=8, d_hidden=8), (2,))
    assert not isinstance(D1, Packed)


def test_batch_must_be_a_multiple_of_pac(tmp_path):
    with pytest.raises(ConfigError, match="train.batch_size"):
        train(make_cfg([*FAST, *RING, "model.pac=4", "train.batch_size=10"]), tmp_path / "run")


def test_linear_decay_follows_the_step_and_resumes_exactly(tmp_path):
    base = [*FAST, *RING, "model.pac=2", "optimizer.lr_decay=linear", "loss.r1_gamma=0.1", "loss=ragan"]
    whole = tmp_path / "whole"
    train(make_cfg([*base, "train.steps=8"]), whole)
    ckpt = checkpoint.load(whole / "checkpoints" / "last.pt")
    lr = ckpt["opt_g"]["param_groups"][0]["lr"]
    assert lr == pytest.approx(2e-4 * (1 - 7 / 8))  # the lr used by step 8 of 8
    lrs = [e.value for e in event_tags(whole)["_acc"].Scalars("lr/D")]
    assert lrs == sorted(lrs, reverse=True) and len(set(lrs)) == len(lrs)
    # an interruption at step 4 (the step-4 checkpoint put back as last.pt), resumed: equal to the whole run
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, "train.steps=8", f"resume={half}"]), tmp_path / "unused")
    a, b = (checkpoint.load(r / "checkpoints" / "last.pt") for r in (whole, half))
    assert a.pop("config")["train"]["steps"] == b.pop("config")["train"]["steps"] == 8
    assert_same(a, b)


def test_optimal_discriminator_and_the_kde():
    data = mixture("ring")
    x = data.sample_eval(400, torch.Generator().manual_seed(0))
    log_p = data.log_density(x).double()
    assert torch.allclose(M.optimal_discriminator(log_p, log_p), torch.full_like(log_p, 0.5))
    # D* = p / (p + q) against the plain formula
    q = torch.rand(400, dtype=torch.float64) * 10
    assert torch.allclose(M.optimal_discriminator(log_p, q.log()), log_p.exp() / (log_p.exp() + q))
    # a KDE is a density: it integrates to 1 (grid sum over [-2, 2]^2)
    samples = torch.randn(50, 2) * 0.3
    axis = torch.linspace(-2, 2, 201)
    gx, gy = torch.meshgrid(axis, axis, indexing="xy")
    grid = torch.stack([gx.flatten(), gy.flatten()], 1)
    mass = M.kde_log_density(grid, samples, 0.1).exp().sum() * (4 / 200) ** 2
    assert float(mass) == pytest.approx(1.0, abs=0.01)
    d = torch.rand(10)
    assert M.distance_to_optimal_d(d, d, d, d) == 0.0
    assert M.distance_to_optimal_d(torch.ones(4), torch.zeros(4), torch.zeros(4), torch.ones(4)) == 1.0


def test_heat_map_shows_d_minus_dstar_for_log_losses(tmp_path):
    out = tmp_path / "ns"
    train(make_cfg([*FAST, *RING]), out)
    assert "metrics/d_vs_dstar" in event_tags(out)["scalars"]
    value = event_tags(out)["_acc"].Scalars("metrics/d_vs_dstar")[-1].value
    assert 0.0 <= value <= 1.0
    hinge = tmp_path / "hinge"
    train(make_cfg([*FAST, *RING, "loss=hinge"]), hinge)
    assert "metrics/d_vs_dstar" not in event_tags(hinge)["scalars"]


def test_pac_runs_end_to_end_on_images(tmp_path):
    out = tmp_path / "img"
    cfg = [*FAST, *SMALL_DCGAN, "model.conditional=false", "model.pac=2", "loss=ragan", "train.eval_every=3"]
    train(make_cfg(cfg), out)
    assert (out / "checkpoints" / "last.pt").is_file()


def test_old_configs_without_the_new_keys_still_build():
    keys = {"nz": 4, "g_hidden": 8, "g_layers": 1, "d_hidden": 8, "d_layers": 1, "maxout_pieces": 2}
    cfg = OmegaConf.create({"name": "mlp", "dropout": 0.0, **keys})  # a checkpoint's config from before pac
    G, D = build_models(cfg, (2,))
    assert not isinstance(D, Packed)


def test_topk_fraction_anneals_over_the_first_half_and_training_uses_it(tmp_path):
    loss = build_loss(group_cfg(LossConfig, "nonsaturating", topk=0.5))
    assert loss.topk_fraction(0, 100) == 1.0
    assert loss.topk_fraction(25, 100) == pytest.approx(0.75)
    assert loss.topk_fraction(50, 100) == loss.topk_fraction(100, 100) == pytest.approx(0.5)
    assert build_loss(group_cfg(LossConfig, "hinge")).topk_fraction(10, 100) is None  # off by default
    summary = train(make_cfg([*RING, *FAST, "loss.topk=0.5", "train.steps=6"]), tmp_path / "run")
    assert summary["status"] == "completed"
    with pytest.raises(ConfigError, match="loss.topk"):
        train(make_cfg([*RING, *FAST, "loss.topk=0"]), tmp_path / "bad")


def test_categorical_latent_is_uniform_deterministic_and_fed_one_hot():
    from gan_cli.nets import CategoricalLatent, categorical

    z0 = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    onehot = categorical(z0, 25)
    assert onehot.shape == (200_000, 25)
    assert torch.equal(onehot.sum(1), torch.ones(200_000, dtype=onehot.dtype))
    shares = onehot.float().mean(0)
    assert shares.sub(1 / 25).abs().max() < 0.004  # uniform: each class 4% (binomial sd 0.04%)
    assert torch.equal(categorical(z0[:10], 25), onehot[:10])
    # the class is floor(Phi(z0) * K): z0 = 0 is the median, so with K = 2 it sits at the boundary
    assert categorical(torch.tensor([-3.0, -0.01, 0.01, 3.0]), 2).argmax(1).tolist() == [0, 0, 1, 1]
    G, _ = build_models(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=5, g_hidden=8, g_layers=1), (2,))
    assert isinstance(G, CategoricalLatent) and G.G.net[0].in_features == 5 + 2  # one-hot + 2 continuous
    z = torch.randn(6, 3)
    first = G.G.net[0]
    seen = []
    first.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    G(z)
    assert torch.equal(seen[0][:, :5], categorical(z[:, 0], 5).float())
    assert torch.equal(seen[0][:, 5:], z[:, 1:])


def test_fourier_features_and_batch_norm_in_the_mlp():
    sizes = {"nz": 2, "g_hidden": 8, "g_layers": 2, "d_hidden": 8}
    cfg = group_cfg(ModelConfig, "mlp", **sizes, g_norm="batch", d_fourier=16)
    G, D = build_models(cfg, (2,))
    assert sum(isinstance(m, nn.BatchNorm1d) for m in G.modules()) == 2
    assert all(m.bias is None for m in G.net if isinstance(m, nn.Linear) and m.out_features == 8)
    ff = D.net[1]
    assert ff.B.shape == (2, 16) and "net.1.B" in D.state_dict()  # saved: a resumed D sees the same features
    x = torch.randn(5, 2)
    proj = x @ ff.B
    assert torch.allclose(ff(x), torch.cat([proj.sin(), proj.cos()], 1))
    assert D.net[2].linear.in_features == 32
    # the features' scale sets their frequencies
    _, D4 = build_models(group_cfg(ModelConfig, "mlp", d_fourier=4000, d_fourier_scale=3.0), (2,))
    assert D4.net[1].B.std().item() == pytest.approx(3.0, rel=0.05)


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.g_norm=layer", "model.g_norm"),
        ("model.latent_classes=-1", "model.latent_classes"),
        ("model.d_fourier_scale=0", "model.d_fourier_scale"),
        ("train.instance_noise=-0.1", "train.instance_noise"),
        ("train.instance_noise_until=0", "train.instance_noise_until"),
    ],
)
def test_new_model_and_noise_keys_refuse_bad_values(tmp_path, override, key):
    with pytest.raises(ConfigError, match=key):
        train(make_cfg([*FAST, *RING, override]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_mlp_only_options_are_refused_on_dcgan_and_the_categorical_latent_is_not(tmp_path):
    with pytest.raises(ConfigError, match="model.name"):
        train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.d_fourier=8"]), tmp_path / "run")
    summary = train(
        make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.latent_classes=4"]), tmp_path / "cat"
    )
    assert summary["status"] == "completed"
    G, _ = build_models(make_cfg([*SMALL_DCGAN, "dataset=fake", "model.latent_classes=4"]).model, (1, 8, 8))
    assert G.G.main[0].in_channels == 4 + 16 - 1
    with pytest.raises(ConfigError, match="model.nz"):
        train(make_cfg([*FAST, *RING, "model.nz=1", "model.latent_classes=4"]), tmp_path / "run2")


def test_instance_noise_falls_linearly_to_zero_and_reaches_d():
    from gan_cli.train import instance_noise

    tc = OmegaConf.create({"instance_noise": 0.5, "instance_noise_until": 0.5, "steps": 100})
    assert instance_noise(tc, 1) == pytest.approx(0.5)
    assert instance_noise(tc, 26) == pytest.approx(0.25)
    assert instance_noise(tc, 51) == instance_noise(tc, 100) == 0.0
    assert instance_noise(OmegaConf.create({**tc, "instance_noise": 0.0}), 1) == 0.0


def test_instance_noise_changes_what_d_sees_and_resumes_exactly(tmp_path):
    base = [*FAST, *RING, "model.pac=2", "train.instance_noise=0.3", "train.instance_noise_until=1.0"]
    whole = tmp_path / "whole"
    train(make_cfg([*base, "train.steps=8"]), whole)
    plain = tmp_path / "plain"
    train(make_cfg([*FAST, *RING, "model.pac=2", "train.steps=8"]), plain)
    a = checkpoint.load(whole / "checkpoints" / "last.pt")
    b = checkpoint.load(plain / "checkpoints" / "last.pt")
    assert not torch.equal(a["D"]["D.net.1.linear.weight"], b["D"]["D.net.1.linear.weight"])
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, "train.steps=8", f"resume={half}"]), tmp_path / "unused")
    assert_same(a, checkpoint.load(half / "checkpoints" / "last.pt"))


def test_grid25_preset_builds_its_recipe():
    cfg = make_cfg(["experiment=grid25"])
    G, D = build_models(cfg.model, (2,))
    assert isinstance(D, Packed) and D.pac == 2 and D.D.net[1].B.shape == (4, 128)
    assert G.classes == 25 and any(isinstance(m, nn.BatchNorm1d) for m in G.modules())
    assert cfg.train.instance_noise > 0 and not cfg.train.ema


def test_info_head_shares_d_and_reads_the_class():
    from gan_cli.nets import InfoHead

    info = ["model.latent_classes=4", "model.info_weight=1"]
    for cfg, shape in [
        (make_cfg([*SMALL_DCGAN, "dataset=fake", *info]).model, (1, 8, 8)),
        (make_cfg([*RING, *info, "model.info_weight=0.5"]).model, (2,)),
    ]:
        _, D = build_models(cfg, shape)
        assert isinstance(D, InfoHead) and D.classes == 4 and D.weight == cfg.info_weight
        plain = sum(p.numel() for p in D.D.parameters())
        assert sum(p.numel() for p in D.parameters()) == plain + sum(p.numel() for p in D.q.parameters())
        assert {k.split(".")[0] for k in D.state_dict()} == {"D", "q"}  # no layer saved twice
        D.eval()
        x = torch.randn(5, *shape)
        logits, codes = D(x, with_code=True)
        assert torch.allclose(logits, D(x)) and torch.allclose(logits, D.D(x))  # the same D, shared body
        assert codes.shape == (5, 4)


def test_info_weight_trains_q_and_g_to_agree_on_the_class_and_resumes_exactly(tmp_path):
    from gan_cli.nets import category, latent

    base = [*RING, "model.latent_classes=4", "model.info_weight=1", "optimizer.lr=1e-3"]  # lr: a quick test
    base += ["train.batch_size=64", "train.steps=300", "train.ckpt_every=150", "train.log_every=10"]
    whole = tmp_path / "whole"
    train(make_cfg(base), whole)
    assert "loss/info" in event_tags(whole)["scalars"]
    cfg = make_cfg(base).model
    G, D = build_models(cfg, (2,))
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    z = latent(2000, cfg.nz, torch.device("cpu"), torch.Generator().manual_seed(1))
    with torch.no_grad():
        _, codes = D.eval()(G.eval()(z), with_code=True)
    accuracy = (codes.argmax(1) == category(z[:, 0], 4)).float().mean().item()
    assert accuracy > 0.9  # Q reads the class z picked from G's output (chance: 0.25)
    # without the term the Q head does not exist and nothing reads the class
    plain = tmp_path / "plain"
    train(make_cfg([*RING, "model.latent_classes=4", "train.steps=2", "train.log_every=1"]), plain)
    assert "loss/info" not in event_tags(plain)["scalars"]
    assert not any(k.startswith("q.") for k in checkpoint.load(plain / "checkpoints" / "last.pt")["D"])
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000150.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, f"resume={half}"]), tmp_path / "unused")
    assert_same(state, checkpoint.load(half / "checkpoints" / "last.pt"))


def test_info_head_in_a_packed_d_reads_each_packed_sample(tmp_path):
    from gan_cli.nets import info_head

    cfg = make_cfg([*RING, "model.latent_classes=3", "model.info_weight=1", "model.pac=2"]).model
    _, D = build_models(cfg, (2,))
    head = info_head(D)
    assert isinstance(D, Packed) and head is D.D and head.q.out_features == 2 * 3
    x = torch.randn(6, 2)
    logits, codes = D.eval()(x, with_code=True)
    assert torch.allclose(logits, D(x)) and codes.shape == (6, 3)
    features = head.D.net[:-1](x.reshape(3, 4))  # pairs (0, 1), (2, 3), (4, 5) side by side
    q = head.q(features)  # [3 pairs, slot 0's 3 class logits then slot 1's]
    assert torch.allclose(codes[1], q[0, 3:]) and torch.allclose(codes[4], q[2, :3])
    summary = train(
        make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_weight=1", "model.pac=2"]),
        tmp_path / "r",
    )
    assert summary["status"] == "completed"


@pytest.mark.parametrize("override", ["model.latent_classes=0", "model.info_weight=-1"])
def test_info_weight_needs_a_categorical_latent(tmp_path, override):
    cfg = [*FAST, *RING, "model.latent_classes=4", "model.info_weight=1", override]
    with pytest.raises(ConfigError, match="model.info_weight"):
        train(make_cfg(cfg), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_mode_seeking_term_known_values_and_pairs_share_their_class(tmp_path):
    from gan_cli.losses import mode_seeking

    z = torch.tensor([[0.0, 0.0], [5.0, 1.0], [0.0, 2.0], [5.0, 3.0]])  # pairs (0, 2) and (1, 3)
    fake = torch.tensor([[1.0], [1.0], [2.0], [3.0]])
    # image distance mean(|1 - 2|, |1 - 3|) = 1.5; latent distance over all coordinates mean(0, 2, 0, 2) = 1
    assert mode_seeking(fake, z).item() == pytest.approx(1 / (1.5 / 1.0 + 1e-5))
    # from coordinate 1 on (the class coordinate left out): mean(2, 2) = 2
    assert mode_seeking(fake, z, continuous_from=1).item() == pytest.approx(1 / (0.75 + 1e-5))
    # a collapsed G (one image for every z) pays 1e5; a G that spreads its images pays less
    assert mode_seeking(torch.ones(4, 1), z).item() == pytest.approx(1e5)
    base = [*FAST, *SMALL_DCGAN, "dataset=fake", "model.latent_classes=4", "loss.mode_seeking=1"]
    seen = []
    from gan_cli.nets import CategoricalLatent, category

    original = CategoricalLatent.forward
    CategoricalLatent.forward = lambda self, z: (seen.append(z.clone()), original(self, z))[1]
    try:
        train(make_cfg(base), tmp_path / "run")
    finally:
        CategoricalLatent.forward = original
    z = seen[0]
    h = len(z) // 2
    assert torch.equal(category(z[:h, 0], 4), category(z[h:, 0], 4)) and not torch.equal(z[:h, 1:], z[h:, 1:])
    assert "loss/mode_seeking" in event_tags(tmp_path / "run")["scalars"]
    with pytest.raises(ConfigError, match="loss.mode_seeking"):
        train(make_cfg([*base, "loss.mode_seeking=-1"]), tmp_path / "bad")


def test_minibatch_std_known_values_and_d_mbstd(tmp_path):
    from gan_cli.nets.dcgan import MinibatchStd

    x = torch.zeros(4, 2, 3, 3)
    x[2] = 2.0  # groups of 2: samples (0, 2) differ by 2 everywhere (std 1), samples (1, 3) are equal
    out = MinibatchStd(2)(x)
    assert out.shape == (4, 3, 3, 3) and torch.equal(out[:, :2], x)
    assert torch.allclose(out[0, 2], torch.ones(3, 3)) and torch.allclose(out[2, 2], torch.ones(3, 3))
    assert out[1, 2].max().item() == pytest.approx(1e-4)  # identical samples: sqrt(0 + 1e-8)
    assert MinibatchStd(4)(torch.randn(6, 1, 2, 2)).shape == (6, 2, 2, 2)  # 4 does not divide 6: groups of 3
    cfg = make_cfg([*SMALL_DCGAN, "dataset=fake", "model.d_mbstd=4"])
    _, D = build_models(cfg.model, (1, 8, 8))
    assert isinstance(D.main[-2], MinibatchStd) and D.main[-1].in_channels == 8 + 1  # ndf=8 at 8x8
    assert train(make_cfg([*FAST, *SMALL_DCGAN, "dataset=fake", "model.d_mbstd=4"]), tmp_path / "r")[
        "status"
    ] == ("completed")
    with pytest.raises(ConfigError, match="model.d_mbstd"):
        train(make_cfg([*FAST, *RING, "model.d_mbstd=4"]), tmp_path / "bad")


def test_info_continuous_codes_known_loss_and_keys(tmp_path):
    from gan_cli.nets import category, info_head

    cfg = make_cfg([*RING, "model.latent_classes=3", "model.info_weight=1", "model.info_continuous=2"]).model
    _, D = build_models(cfg, (2,))
    head = info_head(D)
    assert head.q.out_features == 3 + 2
    z = torch.randn(8, cfg.nz)
    codes = torch.zeros(8, 5)
    codes[:, 3:] = z[:, 1:3] + 1.0  # every continuous estimate off by 1 in both coordinates
    expected = math.log(3) + 0.5 * 2  # uniform class logits: log 3; half of 1^2 + 1^2
    assert head.info_loss(codes, z).item() == pytest.approx(expected, rel=1e-5)
    codes[:, :3] = 50 * torch.nn.functional.one_hot(category(z[:, 0], 3), 3)  # a certain, right class
    codes[:, 3:] = z[:, 1:3]
    assert head.info_loss(codes, z).item() == pytest.approx(0.0, abs=1e-6)
    for bad in ["model.info_continuous=8", "model.info_continuous=-1"]:  # nz=8: 7 continuous coordinates
        with pytest.raises(ConfigError, match="model.info_continuous"):
            train(
                make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_weight=1", bad]), tmp_path / "r"
            )
    with pytest.raises(ConfigError, match="model.info_continuous"):
        train(make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_continuous=2"]), tmp_path / "r")
    assert not (tmp_path / "r").exists()


def _two_class_folder(root, n: int = 32, n_light: int | None = None) -> None:
    """A labelled image folder: class `dark` (pixels near 40) and class `light` (near 215), 8x8 grey."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for name, level, count in [("dark", 40, n), ("light", 215, n if n_light is None else n_light)]:
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = np.clip(level + rng.normal(0, 20, (8, 8)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels, "L").save(root / name / f"{i}.png")


def test_projection_discriminator_known_values():
    from gan_cli.nets import Projection, projection

    cond = [*SMALL_DCGAN, "model.latent_classes=3", "model.conditional=true"]
    for size in (8, 28):  # the 4 * 2^n DCGAN's last convolution, seed 004's last linear layer
        shape = (1, size, size)
        G, D = build_models(make_cfg(cond).model, shape)
        assert isinstance(D, Projection) and projection(D) is D and D.embed.num_embeddings == 3
        assert {k.split(".")[0] for k in D.state_dict()} == {"D", "embed"}
        D.eval()
        x, y = torch.randn(4, *shape), torch.tensor([0, 1, 2, 1])
        body = getattr(D.D, D._body)
        phi = body[:-1](x).flatten(1)
        expected = D.D(x) + (phi * D.embed.weight[y]).sum(1)  # psi(phi(x)) + <embed(y), phi(x)>
        assert torch.allclose(D(x, y), expected, atol=1e-5)
        with torch.no_grad():
            D.embed.weight.zero_()
        assert torch.allclose(D(x, y), D.D(x))  # no embedding: the unconditional D
        with torch.no_grad():
            D.embed.weight[1] = 1.0
        shift = D(x, torch.ones(4, dtype=torch.long)) - D(x, torch.zeros(4, dtype=torch.long))
        assert torch.allclose(shift, phi.sum(1), atol=1e-5)  # label 1 adds <1, phi(x)>


def test_conditional_gan_draws_each_class_from_its_label_and_resumes_exactly(tmp_path):
    from gan_cli.evaluate import main as gan_eval
    from gan_cli.nets import latent

    _two_class_folder(tmp_path / "data")
    base = [
        "dataset=folder",
        f"dataset.root={tmp_path / 'data'}",
        "dataset.image_size=8",
        "dataset.channels=1",
        *SMALL_DCGAN,
    ]
    base += ["model.latent_classes=2", "model.conditional=true", "optimizer.lr=1e-3", "loss.r1_gamma=0"]
    base += ["train.batch_size=32", "train.steps=200", "train.ckpt_every=100", "train.device=cpu"]
    whole = tmp_path / "whole"
    train(make_cfg(base), whole)
    cfg = make_cfg(base).model
    G, _ = build_models(cfg, (1, 8, 8))
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    G.load_state_dict(state["G"])
    z = latent(400, cfg.nz, torch.device("cpu"), torch.Generator().manual_seed(1))
    with torch.no_grad():
        brightness = G.eval()(z).mean(dim=(1, 2, 3))
    y = G.classes_of(z)  # label 0 = dark (-0.69 in [-1, 1]), 1 = light (+0.69)
    assert brightness[y == 0].mean() < -0.3 and brightness[y == 1].mean() > 0.3
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000100.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*base, f"resume={half}"]), tmp_path / "unused")
    assert_same(state, checkpoint.load(half / "checkpoints" / "last.pt"))
    from gan_cli.sample import main as gan_sample

    for k in (0, 1):  # gan-sample label=K: only that class
        gan_sample([f"run={whole}", "num=50", f"out={tmp_path / f'{k}.npy'}", f"label={k}"])
    dark, light = (np.load(tmp_path / f"{k}.npy").mean() for k in (0, 1))  # in [0, 1]
    assert dark < 0.5 < light and light - dark > 0.25  # (G_ema, still catching up after 200 steps)
    with pytest.raises(SystemExit, match="2"):
        gan_sample([f"run={whole}", "num=4", f"out={tmp_path / 'x.npy'}", "label=2"])
    gan_eval([f"run={whole}", "num=64"])  # the JSD gauge asks D about each image with its label
    assert 0 <= json.loads((whole / "eval.json").read_text())["metrics"]["jsd_estimate"] <= math.log(2)


@pytest.mark.parametrize(
    "override, key",
    [
        ("model.latent_classes=0", "model.conditional"),
        ("model.pac=2", "model.conditional"),
        ("model.info_weight=1", "model.conditional"),
        ("model.latent_classes=3", "model.latent_classes=2"),  # the folder has 2 classes
        ("dataset=fake", "dataset=fake has none"),  # no labels
    ],
)
def test_conditional_refusals(tmp_path, override, key):
    _two_class_folder(tmp_path / "data")
    cfg = [
        *FAST,
        "dataset=folder",
        f"dataset.root={tmp_path / 'data'}",
        "dataset.image_size=8",
        "dataset.channels=1",
        *SMALL_DCGAN,
    ]
    cfg += ["model.latent_classes=2", "model.conditional=true", override]
    with pytest.raises(ConfigError, match=key):
        train(make_cfg(cfg), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints" / "last.pt").exists()


def test_conditional_classes_follow_the_dataset_shares(tmp_path):
    from gan_cli.nets import CategoricalLatent, latent
    from gan_cli.sample import load_run

    G, _ = build_models(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=3, conditional=True), (2,))
    assert isinstance(G, CategoricalLatent) and "cdf" in G.state_dict()
    G.set_class_counts(torch.tensor([6, 3, 1]))
    z = latent(200_000, 3, torch.device("cpu"), torch.Generator().manual_seed(0))
    shares = torch.bincount(G.classes_of(z), minlength=3) / 200_000
    assert torch.allclose(shares, torch.tensor([0.6, 0.3, 0.1]), atol=0.004)
    picks = G.classes_of(torch.tensor([[G.z0_of(k), 0.0, 0.0] for k in range(3)]))
    assert picks.tolist() == [0, 1, 2]
    plain, _ = build_models(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=3), (2,))
    assert "cdf" not in plain.state_dict()  # unconditional: uniform, as before
    with pytest.raises(ValueError):
        plain.set_class_counts(torch.tensor([1, 1, 1]))
    # training sets the shares from the labels (48 dark, 16 light) and the run keeps them
    _two_class_folder(tmp_path / "data", n=48, n_light=16)
    cfg = [*FAST, "dataset=folder", f"dataset.root={tmp_path / 'data'}", "dataset.image_size=8"]
    cfg += ["dataset.channels=1", *SMALL_DCGAN, "model.latent_classes=2", "model.conditional=true"]
    train(make_cfg(cfg), tmp_path / "run")
    G_ema, *_ = load_run(tmp_path / "run", torch.device("cpu"))
    assert torch.allclose(G_ema.cdf, torch.tensor([0.75, 1.0]))


def test_class_batch_norm_known_values_and_g_class_norm(tmp_path):
    from gan_cli.nets import latent
    from gan_cli.nets.dcgan import ClassBatchNorm2d

    bn = ClassBatchNorm2d(2, 3)
    x = torch.randn(6, 2, 3, 3, generator=torch.Generator().manual_seed(0))
    y = nn.functional.one_hot(torch.tensor([0, 1, 2, 0, 1, 2]), 3).float()
    plain = nn.functional.batch_norm(x, None, None, training=True)
    with torch.no_grad():
        bn.scale.weight.zero_()
        bn.shift.weight.zero_()
        assert torch.allclose(bn(x, y), plain, atol=1e-6)  # W = 0: plain batch norm
        bn.scale.weight[:, 1] = torch.tensor([1.0, -0.5])  # class 1: channel 0 doubled, channel 1 halved
        bn.shift.weight[:, 2] = torch.tensor([3.0, 0.0])  # class 2: channel 0 shifted by 3
        out = bn(x, y)
    want = plain.clone()
    want[[1, 4], 0] *= 2
    want[[1, 4], 1] *= 0.5
    want[[2, 5], 0] += 3
    assert torch.allclose(out, want, atol=1e-5)

    over = [*SMALL_DCGAN, "dataset=fake", "model.latent_classes=3", "model.g_class_norm=true"]
    G, _ = build_models(make_cfg(over).model, (1, 16, 16))  # 16x16: two batch norms
    norms = [m for m in G.modules() if isinstance(m, ClassBatchNorm2d)]
    assert len(norms) == 2 and not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in G.modules())
    with torch.no_grad():  # a shift of class 1 in the last norm changes class 1's images, no other's
        z = latent(12, G.G.nz - 3 + 1, torch.device("cpu"), torch.Generator().manual_seed(0))
        before = G.eval()(z)
        norms[-1].shift.weight[:, 1] += 1.0
        changed = (G(z) - before).abs().amax(dim=(1, 2, 3)) > 1e-6
    assert changed.tolist() == (G.classes_of(z) == 1).tolist() and changed.any() and not changed.all()

    run = [*FAST, *over, "train.steps=6", "train.ckpt_every=3"]
    whole = tmp_path / "whole"
    train(make_cfg(run), whole)
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    half = tmp_path / "half"
    shutil.copytree(whole, half)
    shutil.copy(half / "checkpoints" / "step_000003.pt", half / "checkpoints" / "last.pt")
    train(make_cfg([*run, f"resume={half}"]), tmp_path / "unused")
    assert_same(state, checkpoint.load(half / "checkpoints" / "last.pt"))
    # where it cannot apply it is not refused (the digits recipe sets it; `gan-train model=mlp` must still run
    # on the digits) but named in a warning, and the networks are the plain ones
    from gan_cli import schema

    assert schema.unused(make_cfg(over), (1, 16, 16)) == []
    for other, why in ((["model.latent_classes=0"], "with model.latent_classes=0"), (RING, "with model=mlp")):
        (note,) = schema.unused(make_cfg([*over, *other]), (1, 16, 16))
        assert note.startswith("model.g_class_norm=true has no effect " + why)
    (note,) = schema.unused(make_cfg(over), (1, 28, 28))
    assert note.startswith("model.g_class_norm=true has no effect at 28x28")
    for other, shape in ((["model.latent_classes=0"], (1, 16, 16)), ([], (1, 28, 28))):
        G, _ = build_models(make_cfg([*over, *other]).model, shape)
        assert not any(isinstance(m, ClassBatchNorm2d) for m in G.modules())
