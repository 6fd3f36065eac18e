"""tricks/conditional.py: the projection D against known values, and conditional training on labels."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.models import build_models
from gan_cli.schema import ModelConfig
from gan_cli.train import train
from tests.helpers import (
    FAST,
    SMALL_DCGAN,
    assert_same,
    group_cfg,
    make_cfg,
    two_class_folder,
    with_model,
)


def test_projection_discriminator_known_values():
    from gan_cli.nets import Projection

    cond = [*SMALL_DCGAN, "model.latent_classes=3", "model.conditional=true"]
    for size in (8, 28):  # the 4 * 2^n DCGAN's last convolution, the 28x28 D's last linear
        shape = (1, size, size)
        G, D = build_models(make_cfg(cond), shape)
        assert isinstance(D, Projection) and D.embed.num_embeddings == 3
        assert {k.split(".")[0] for k in D.state_dict()} == {"D", "embed"}
        D.eval()
        x, y = torch.randn(4, *shape), torch.tensor([0, 1, 2, 1])
        body = getattr(D.D, D._body)
        phi = body[:-1](x).flatten(1)
        expected = D.D(x).logits + (phi * D.embed.weight[y]).sum(1)  # psi(phi(x)) + <embed(y), phi(x)>
        assert torch.allclose(D(x, y).logits, expected, atol=1e-5)
        with torch.no_grad():
            D.embed.weight.zero_()
        assert torch.allclose(D(x, y).logits, D.D(x).logits)  # no embedding: the unconditional D
        with torch.no_grad():
            D.embed.weight[1] = 1.0
        shift = D(x, torch.ones(4, dtype=torch.long)).logits - D(x, torch.zeros(4, dtype=torch.long)).logits
        assert torch.allclose(shift, phi.sum(1), atol=1e-5)  # label 1 adds <1, phi(x)>


@pytest.mark.slow
def test_conditional_gan_draws_each_class_from_its_label_and_resumes_exactly(tmp_path):
    from gan_cli.evaluate import main as gan_eval
    from gan_cli.nets import latent

    two_class_folder(tmp_path / "data")
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
    cfg = make_cfg(base)
    G, _ = build_models(cfg, (1, 8, 8))
    state = checkpoint.load(whole / "checkpoints" / "last.pt")
    G.load_state_dict(state["G"])
    z = latent(400, cfg.model.nz, torch.device("cpu"), torch.Generator().manual_seed(1))
    with torch.no_grad():
        brightness = G.eval()(z).mean(dim=(1, 2, 3))
    y = G.classes_of(z)  # label 0 = dark (-0.69 in [-1, 1]), 1 = light (+0.69)
    dark_draws, light_draws = brightness[y == 0], brightness[y == 1]
    # every dark-labelled draw is darker than every light-labelled one (G ignoring the label would mix them);
    # 200 steps leave the dark class short of -0.69 (its mean ends near -0.3, depending on the CPU's kernels)
    assert dark_draws.max() < -0.1 and light_draws.min() > 0.4 and light_draws.min() - dark_draws.max() > 0.5
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


@pytest.mark.slow
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
    two_class_folder(tmp_path / "data")
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


@pytest.mark.slow
def test_conditional_classes_follow_the_dataset_shares(tmp_path):
    from gan_cli.nets import CategoricalLatent, latent
    from gan_cli.runs import load_run

    G, _ = build_models(
        with_model(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=3, conditional=True)), (2,)
    )
    assert isinstance(G, CategoricalLatent) and "cdf" in G.state_dict()
    G.set_class_counts(torch.tensor([6, 3, 1]))
    z = latent(200_000, 3, torch.device("cpu"), torch.Generator().manual_seed(0))
    shares = torch.bincount(G.classes_of(z), minlength=3) / 200_000
    assert torch.allclose(shares, torch.tensor([0.6, 0.3, 0.1]), atol=0.004)
    picks = G.classes_of(torch.tensor([[G.z0_of(k), 0.0, 0.0] for k in range(3)]))
    assert picks.tolist() == [0, 1, 2]
    plain, _ = build_models(with_model(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=3)), (2,))
    assert "cdf" not in plain.state_dict()  # unconditional: uniform, as before
    with pytest.raises(ValueError):
        plain.set_class_counts(torch.tensor([1, 1, 1]))
    # training sets the shares from the labels (48 dark, 16 light) and the run keeps them
    two_class_folder(tmp_path / "data", n=48, n_light=16)
    cfg = [*FAST, "dataset=folder", f"dataset.root={tmp_path / 'data'}", "dataset.image_size=8"]
    cfg += ["dataset.channels=1", *SMALL_DCGAN, "model.latent_classes=2", "model.conditional=true"]
    train(make_cfg(cfg), tmp_path / "run")
    G_ema, *_ = load_run(tmp_path / "run", torch.device("cpu"))
    assert torch.allclose(G_ema.cdf, torch.tensor([0.75, 1.0]))


def test_a_spectrally_normalised_conditional_d_normalises_its_class_embedding():
    """model.d_norm=spectral: the <embed(y), phi(x)> term is constrained like D's layers (Miyato and Koyama's
    SNEmbedding, started with Xavier), so scaling the embedding up leaves D's output unchanged."""
    from torch.nn.utils import parametrize

    cond = [*SMALL_DCGAN, "model.latent_classes=3", "model.conditional=true", "model.d_norm=spectral"]
    _, D = build_models(make_cfg(cond), (1, 8, 8))
    assert parametrize.is_parametrized(D.embed, "weight")
    raw = D.embed.parametrizations.weight.original
    # Xavier uniform on [3, features]: bound sqrt(6 / (3 + features)), far wider than normal(0.02)
    bound = math.sqrt(6 / sum(raw.shape))
    assert raw.abs().max() <= bound and raw.std() > 0.5 * bound / math.sqrt(3)
    for _ in range(30):  # the power iteration converges in training forwards
        D(torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1]))
    D.eval()
    assert torch.linalg.matrix_norm(D.embed.weight, ord=2).item() == pytest.approx(1.0, rel=1e-3)
    x, y = torch.randn(4, 1, 8, 8), torch.tensor([0, 1, 2, 1])
    before = D(x, y).logits
    with torch.no_grad():
        raw.mul_(100.0)
    assert torch.allclose(D(x, y).logits, before, rtol=1e-4, atol=1e-5)
    # without spectral norm the embedding is a plain one, started small
    _, plain = build_models(make_cfg(cond[:-1]), (1, 8, 8))
    assert not parametrize.is_parametrized(plain.embed, "weight") and plain.embed.weight.std() < 0.03
