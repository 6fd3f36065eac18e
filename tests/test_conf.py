"""The shipped configs: the default job's recipe and the presets compose to what they promise."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.models import build_models
from gan_cli.nets import Packed
from gan_cli.train import train
from tests.helpers import (
    FAST,
    fake_mnist,
    make_cfg,
    read_summary,
)


@pytest.mark.slow
def test_the_mnist_experiment_preset_is_its_recipe(tmp_path):
    cfg = make_cfg(["experiment=mnist_dcgan_lsgan"])
    assert (cfg.dataset.name, cfg.model.name, cfg.loss.name, cfg.optimizer.name) == (
        "mnist",
        "dcgan",
        "lsgan",
        "adam",
    )
    assert cfg.train.batch_size == 128 and cfg.optimizer.betas[0] == 0.5 and cfg.dataset.image_size == 28
    assert cfg.model.pac == 2 and cfg.optimizer.lr == 2e-4  # tuned on real digits (docs/results.md)
    # InfoGAN: a 10-way code that D's Q head reads back, no labels (docs/results.md)
    assert cfg.model.latent_classes == 10 and cfg.model.info_weight == 0.3 and not cfg.model.conditional
    fake_mnist(tmp_path / "data")
    overrides = ["experiment=mnist_dcgan_lsgan", f"dataset.root={tmp_path / 'data'}", "train.steps=2"]
    out = tmp_path / "run"
    train(make_cfg(FAST + overrides), out)
    assert read_summary(out)["step"] == 2
    # the class-conditional variant the preset's comment gives
    conditional = ["model.conditional=true", "model.pac=1", "model.info_weight=0"]
    train(make_cfg(FAST + overrides + conditional), tmp_path / "conditional")
    assert read_summary(tmp_path / "conditional")["step"] == 2


def test_the_digits_recipe_s_d_rate_follows_optimizer_lr():
    """digits sets D's rate to half of optimizer.lr: lr and its sweeps still move both networks."""
    assert make_cfg([]).optimizer.lr_d == pytest.approx(1e-4)
    assert make_cfg(["optimizer.lr=1e-3"]).optimizer.lr_d == pytest.approx(5e-4)
    assert make_cfg(["optimizer.lr=1e-3", "optimizer.lr_d=3e-4"]).optimizer.lr_d == pytest.approx(3e-4)
    assert make_cfg(["optimizer.lr_d=null"]).optimizer.lr_d is None  # the plain DCGAN: both at lr
    assert make_cfg(["dataset=ring"]).optimizer.lr_d is None


def test_grid25_preset_builds_its_recipe():
    """Like for like with PacGAN: a continuous latent that does not count the modes, G's own samples."""
    cfg = make_cfg(["experiment=grid25"])
    G, D = build_models(cfg, (2,))
    assert isinstance(D, Packed) and D.pac == 2 and D.D.net[1].B.shape == (4, 128)
    assert not cfg.model.latent_classes and not getattr(G, "classes", 0) and cfg.model.nz == 3
    assert cfg.train.rejection_steps == 0  # gan-sample draws G's own samples, rejection=auto or not
    assert any(isinstance(m, nn.BatchNorm1d) for m in G.modules())
    assert isinstance(G.net[-1], nn.Linear)  # G's output is a linear map of its last hidden layer
    # a continuous map: nearby latents give nearby samples, and distinct latents distinct samples
    G.eval()
    with torch.no_grad():
        z = torch.randn(2500, 3)
        x, x_near = G(z), G(z + 1e-4 * torch.randn_like(z))
    assert (x - x_near).norm(dim=1).max() < 0.05
    assert len(torch.unique(x, dim=0)) == len(x)
    assert cfg.train.instance_noise_schedule == "mixed" and not cfg.train.ema


def test_grid25_drs_preset_builds_the_earlier_recipe():
    cfg = make_cfg(["experiment=grid25_drs"])
    G, D = build_models(cfg, (2,))
    assert isinstance(D, Packed) and D.pac == 2 and D.D.net[1].B.shape == (4, 128)
    assert G.classes == 25 and any(isinstance(m, nn.BatchNorm1d) for m in G.modules())
    assert cfg.train.instance_noise > 0 and not cfg.train.ema and cfg.train.rejection_steps > 0
