"""StyleGAN2's networks equal the official ones of NVlabs/stylegan2-ada-pytorch, number for number
(tests/fixtures/stylegan2/README.md: how the fixtures were made, from which commit): w from the mapping
network, images with constant and no noise, the truncated image, the style-mixed image for a fixed
crossover, D's logits (unconditional `orig` D at 32 px RGB; conditional residual D at 64 px grey), R1's
per-image gradient norms and the path-length penalty, all to a relative 1e-4."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gan_cli.nets import MODELS
from gan_cli.nets.stylegan2 import StyleGAN2Generator, set_sampling
from gan_cli.penalties import R1Penalty
from gan_cli.schema import StyleGAN2Config
from gan_cli.tricks.path_length import path_lengths
from tests.helpers import group_cfg

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "stylegan2"
SIZES = [32, 64]


def load(size: int):
    ref = torch.load(FIXTURES / f"stylegan2_{size}.pt", weights_only=True)
    s = ref["spec"]
    cfg = group_cfg(
        StyleGAN2Config,
        "stylegan2",
        nz=s["z_dim"] + s["classes"],  # the width G gets: the one-hot label in front of the latent
        latent_classes=s["classes"],
        conditional=bool(s["classes"]),
        w_dim=s["w_dim"],
        map_layers=s["map"],
        channel_base=s["base"],
        channel_max=s["cmax"],
        d_architecture=s["arch"],
        mbstd_group=s["mbstd"],
        style_mixing=0.0,
    )
    G, D = MODELS.build(cfg, (s["channels"], size, size))
    G.load_state_dict(ref["G"])  # strict: every official name and shape
    # the official D blocks keep a copy of the filter that their layers hold again; gan-cli's do not
    D.load_state_dict({k: v for k, v in ref["D"].items() if not (k.count(".") == 1 and "resample" in k)})
    G.eval()
    D.eval()
    return G, D, ref


def g_input(ref) -> tuple[torch.Tensor, torch.Tensor]:
    """(G's input for z, for z2): [one-hot label, z]."""
    k = ref["spec"]["classes"]
    onehot = F.one_hot(ref["labels"], k).float() if k else torch.zeros(len(ref["z"]), 0)
    return torch.cat([onehot, ref["z"]], 1), torch.cat([onehot, ref["z2"]], 1)


def close(ours: torch.Tensor, theirs: torch.Tensor, tol: float = 1e-4) -> bool:
    """Equal to a relative `tol` of the reference's largest magnitude."""
    return bool((ours - theirs).abs().max() <= tol * theirs.abs().max())


@pytest.mark.parametrize("size", SIZES)
def test_mapping_and_synthesis_equal_the_official_networks(size):
    G, _, ref = load(size)
    z, z2 = g_input(ref)
    with torch.no_grad():
        ws = G.map(z)
        assert close(ws, ref["ws"])
        assert close(G.synthesis(ws, "const"), ref["img_const"])
        assert close(G.synthesis(ws, "none"), ref["img_none"])
        assert not close(G.synthesis(ws, "none"), ref["img_const"])  # the noise counts
        assert close(G.synthesis(G.mixed(z, z2, ref["cutoff"]), "const"), ref["img_mixed"])
        set_sampling(G, truncation=0.7, noise="const")
        assert close(G(z), ref["img_trunc"])


@pytest.mark.parametrize("size", SIZES)
def test_the_discriminator_equals_the_official_one(size):
    _, D, ref = load(size)
    y = ref["labels"] if ref["spec"]["classes"] else None
    with torch.no_grad():
        assert close(D(ref["x"], y).logits, ref["d_logits"].squeeze(1))
        assert close(D(ref["img_const"], y).logits, ref["d_logits_fake"].squeeze(1))


@pytest.mark.parametrize("size", SIZES)
def test_r1_and_path_length_equal_the_official_penalties(size):
    G, D, ref = load(size)
    y = ref["labels"] if ref["spec"]["classes"] else None
    gamma = 0.5
    ours = R1Penalty(gamma, every=1)(D, ref["x"], ref["x"], None, y)
    assert close(ours, gamma / 2 * ref["r1_per_image"].mean())
    z, _ = g_input(ref)
    ws = G.map(z).detach().requires_grad_(True)
    lengths = path_lengths(G.synthesis(ws, "const"), ws, ref["pl_noise"])
    assert close(lengths, ref["pl_lengths"])
    pl_mean = torch.zeros([]).lerp(lengths.mean(), 0.01)
    assert close((lengths - pl_mean).square(), ref["pl_penalty"], 1e-3)


def test_style_mixing_in_training_switches_latents_from_a_random_layer():
    G, _, ref = load(32)
    z, _ = g_input(ref)
    G.train()
    G.style_mixing = 1.0
    torch.manual_seed(0)
    plain = G.mapping(z, None, update_avg=False)
    cutoffs = set()
    for _ in range(40):
        ws = G.map(z)
        same = (ws - plain).abs().amax(dim=(0, 2)) == 0  # [num_ws]: layers that kept z's w
        k = int(same.sum())
        assert same[:k].all() and not same[k:].any() and 1 <= k < G.num_ws
        cutoffs.add(k)
    assert len(cutoffs) > 2  # the crossover is drawn
    G.style_mixing = 0.0
    assert torch.equal(G.map(z), G.mapping(z, None, update_avg=False))


def test_w_avg_tracks_w_in_training_only():
    G, _, ref = load(32)
    z, _ = g_input(ref)
    before = G.mapping.w_avg.clone()
    with torch.no_grad():
        G(z)  # eval
        assert torch.equal(G.mapping.w_avg, before)
        G.train()
        G(z)
    w = G.mapping(z, None, update_avg=False)[:, 0].mean(0)
    assert torch.allclose(G.mapping.w_avg, w.lerp(before, 0.995), atol=1e-6)


def test_truncation_and_noise_are_refused_for_a_g_without_w():
    from gan_cli.errors import ConfigError
    from gan_cli.schema import ModelConfig

    G, _ = MODELS.build(group_cfg(ModelConfig, "dcgan", nz=8, ngf=8, ndf=8), (1, 16, 16))
    with pytest.raises(ConfigError, match="truncation"):
        set_sampling(G, truncation=0.7)
    set_sampling(G, truncation=1.0)  # the default asks nothing of G
    G2, _, _ = load(32)
    with pytest.raises(ConfigError, match="noise"):
        set_sampling(G2, noise="loud")
    assert isinstance(G2, StyleGAN2Generator)


@pytest.mark.parametrize("res, channels, arch", [(128, 1, "resnet"), (128, 3, "orig"), (1024, 3, "resnet")])
def test_every_size_builds_the_official_widths_and_trains(res, channels, arch):
    """Beyond the fixtures' 32 and 64 px: 128 px grey and RGB, and the largest size, 1024 px; blocks at
    every power of two from 4 to res, each min(channel_base // res, channel_max) wide, G's images of the
    asked shape, and gradients through D into every parameter of G (the per-layer noise strengths too)."""
    base, cmax = 2048, 16  # narrow: 1024 px has 2 channels, 4..128 px the maximum
    cfg = group_cfg(
        StyleGAN2Config,
        "stylegan2",
        nz=8,
        w_dim=8,
        map_layers=2,
        channel_base=base,
        channel_max=cmax,
        d_architecture=arch,
        mbstd_group=2,
        style_mixing=0.9,
    )
    G, D = MODELS.build(cfg, (channels, res, res))
    sizes = [2**i for i in range(2, res.bit_length())]
    for r in sizes:
        width = min(base // r, cmax)
        assert getattr(G.synthesis, f"b{r}").conv1.bias.shape == (width,)
        if r > 4:
            assert getattr(D, f"b{r}").conv0.bias.shape == (width,)  # D reads r px with r's width
    assert G.num_ws == 2 * len(sizes)  # one w per convolution and one for the last toRGB
    torch.manual_seed(0)
    img = G(torch.randn(2, 8))
    assert img.shape == (2, channels, res, res) and torch.isfinite(img).all()
    D(img).logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
