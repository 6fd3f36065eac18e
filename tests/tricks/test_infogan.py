"""tricks/infogan.py: the Q head on D, its loss against known values, and training with it."""

from __future__ import annotations

import math
import shutil

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.nets import Packed
from gan_cli.train import train
from gan_cli.tricks.infogan import info_loss
from tests.helpers import (
    FAST,
    RING,
    SMALL_DCGAN,
    assert_same,
    event_tags,
    make_cfg,
)


def test_info_head_shares_d_and_reads_the_class():
    from gan_cli.nets import InfoHead

    info = ["model.latent_classes=4", "model.info_weight=1"]
    for cfg, shape in [
        (make_cfg([*SMALL_DCGAN, "dataset=fake", *info]), (1, 8, 8)),
        (make_cfg([*RING, *info, "model.info_weight=0.5"]), (2,)),
    ]:
        _, D = build_models(cfg, shape)
        assert isinstance(D, InfoHead) and D.classes == 4
        plain = sum(p.numel() for p in D.D.parameters())
        assert sum(p.numel() for p in D.parameters()) == plain + sum(p.numel() for p in D.q.parameters())
        assert {k.split(".")[0] for k in D.state_dict()} == {"D", "q"}  # no layer saved twice
        D.eval()
        x = torch.randn(5, *shape)
        logits, codes = D(x)
        assert torch.allclose(logits, D.D(x).logits)  # the same D, shared body
        assert codes.shape == (5, 4)


@pytest.mark.slow
def test_info_weight_trains_q_and_g_to_agree_on_the_class_and_resumes_exactly(tmp_path):
    from gan_cli.nets import category, latent

    base = [*RING, "model.latent_classes=4", "model.info_weight=1", "optimizer.lr=1e-3"]  # lr: a quick test
    base += ["train.batch_size=64", "train.steps=300", "train.ckpt_every=150", "train.log_every=10"]
    whole = tmp_path / "whole"
    train(make_cfg(base), whole)
    assert "loss/info" in event_tags(whole)["scalars"]
    cfg = make_cfg(base)
    G, D = build_models(cfg, (2,))
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    G.load_state_dict(state["G"])
    D.load_state_dict(state["D"])
    z = latent(2000, cfg.model.nz, torch.device("cpu"), torch.Generator().manual_seed(1))
    with torch.no_grad():
        codes = D.eval()(G.eval()(z)).codes
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


@pytest.mark.slow
def test_info_head_in_a_packed_d_reads_each_packed_sample(tmp_path):
    from gan_cli.nets import InfoHead

    cfg = make_cfg([*RING, "model.latent_classes=3", "model.info_weight=1", "model.pac=2"])
    _, D = build_models(cfg, (2,))
    head = D.D
    assert isinstance(head, InfoHead)
    assert isinstance(D, Packed) and head is D.D and head.q.out_features == 2 * 3
    x = torch.randn(6, 2)
    logits, codes = D.eval()(x)
    assert logits.shape == (3,) and codes.shape == (6, 3)
    features = head.D.net[:-1](x.reshape(3, 4))  # pairs (0, 1), (2, 3), (4, 5) side by side
    q = head.q(features)  # [3 pairs, slot 0's 3 class logits then slot 1's]
    assert torch.allclose(codes[1], q[0, 3:]) and torch.allclose(codes[4], q[2, :3])
    summary = train(
        make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_weight=1", "model.pac=2"]),
        tmp_path / "r",
    )
    assert summary["status"] == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("override", ["model.latent_classes=0", "model.info_weight=-1"])
def test_info_weight_needs_a_categorical_latent(tmp_path, override):
    cfg = [*FAST, *RING, "model.latent_classes=4", "model.info_weight=1", override]
    with pytest.raises(ConfigError, match="model.info_weight"):
        train(make_cfg(cfg), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_info_continuous_codes_known_loss_and_keys(tmp_path):
    from gan_cli.nets import category

    cfg = make_cfg([*RING, "model.latent_classes=3", "model.info_weight=1", "model.info_continuous=2"])
    _, D = build_models(cfg, (2,))
    assert D.q.out_features == 3 + 2
    z = torch.randn(8, cfg.model.nz)
    codes = torch.zeros(8, 5)
    codes[:, 3:] = z[:, 1:3] + 1.0  # every continuous estimate off by 1 in both coordinates
    expected = math.log(3) + 0.5 * 2  # uniform class logits: log 3; half of 1^2 + 1^2
    assert info_loss(codes, z, 3, 2).item() == pytest.approx(expected, rel=1e-5)
    codes[:, :3] = 50 * torch.nn.functional.one_hot(category(z[:, 0], 3), 3)  # a certain, right class
    codes[:, 3:] = z[:, 1:3]
    assert info_loss(codes, z, 3, 2).item() == pytest.approx(0.0, abs=1e-6)
    for bad in ["model.info_continuous=8", "model.info_continuous=-1"]:  # nz=8: 7 continuous coordinates
        with pytest.raises(ConfigError, match="model.info_continuous"):
            train(
                make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_weight=1", bad]), tmp_path / "r"
            )
    with pytest.raises(ConfigError, match="model.info_continuous"):
        train(make_cfg([*FAST, *RING, "model.latent_classes=3", "model.info_continuous=2"]), tmp_path / "r")
    assert not (tmp_path / "r").exists()
