"""nets/resnet.py: SNGAN's ResNets at every supported size, their published shape, and training with them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.errors import ConfigError
from gan_cli.nets import MODELS
from gan_cli.nets.resnet import DBlock, GBlock
from gan_cli.schema import ModelConfig
from gan_cli.train import train
from tests.helpers import FAST, group_cfg, make_cfg, read_summary


def conv(cin: int, cout: int, k: int) -> int:
    return cin * cout * k * k + cout  # weights and biases


def test_cifar_networks_have_the_papers_layers_and_parameter_counts():
    """Counted by hand from SNGAN's CIFAR-10 ResNets (Miyato et al. 2018, appendix B, Table 4): G: linear
    128 -> 4x4x256, three up-sampling blocks of 256 channels (two batch norms, two 3x3 convolutions and a
    1x1 shortcut each), batch norm, a 3x3 convolution to RGB; D: an optimized block to 128 channels, a
    down-sampling block, two plain blocks (identity shortcuts), global sum pooling, linear 128 -> 1."""
    G, D = MODELS.build(
        group_cfg(ModelConfig, "resnet", nz=128, ngf=256, ndf=128, d_norm="none"), (3, 32, 32)
    )
    g_block = 2 * 512 + 2 * conv(256, 256, 3) + conv(256, 256, 1)
    g = (128 * 4 * 4 * 256 + 4 * 4 * 256) + 3 * g_block + 512 + conv(256, 3, 3)
    d = (conv(3, 128, 3) + conv(128, 128, 3) + conv(3, 128, 1)) + (2 * conv(128, 128, 3) + conv(128, 128, 1))
    d += 2 * (2 * conv(128, 128, 3)) + (128 + 1)
    assert sum(p.numel() for p in G.parameters()) == g == 4_276_739
    assert sum(p.numel() for p in D.parameters()) == d == 1_053_825
    assert sum(isinstance(m, GBlock) for m in G.modules()) == 3
    blocks = [m for m in D.modules() if isinstance(m, DBlock)]
    assert [(b.down, b.optimized, b.shortcut is not None) for b in blocks] == [
        (True, True, True),
        (True, False, True),
        (False, False, False),
        (False, False, False),
    ]


@pytest.mark.parametrize("size", [32, 48, 64, 128])
@pytest.mark.parametrize("channels", [1, 3])
def test_every_size_and_channel_count_builds(size, channels):
    G, D = MODELS.build(
        group_cfg(ModelConfig, "resnet", nz=8, ngf=16, ndf=16, d_norm="spectral"), (channels, size, size)
    )
    fake = G(torch.randn(2, 8))
    assert fake.shape == (2, channels, size, size) and fake.abs().max() <= 1
    assert D(fake).logits.shape == (2,)
    assert all(hasattr(m, "parametrizations") for m in D.modules() if isinstance(m, nn.Conv2d | nn.Linear))


def test_sizes_and_norms_it_cannot_build_are_refused_by_name():
    for shape in [(3, 28, 28), (2,)]:
        with pytest.raises(ConfigError, match="model=resnet"):
            MODELS.build(group_cfg(ModelConfig, "resnet", nz=8, ngf=8, ndf=8, d_norm="none"), shape)
    with pytest.raises(ConfigError, match="model.d_norm=batch"):
        MODELS.build(group_cfg(ModelConfig, "resnet", nz=8, ngf=8, ndf=8, d_norm="batch"), (3, 32, 32))


def test_class_batch_norm_reaches_every_block():
    cfg = group_cfg(
        ModelConfig, "resnet", nz=8, ngf=8, ndf=8, d_norm="none", latent_classes=3, g_class_norm=True
    )
    G, _ = MODELS.build(cfg, (1, 32, 32))
    assert all(type(b.bn1).__name__ == "ClassBatchNorm2d" for b in G.modules() if isinstance(b, GBlock))


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [
        ["experiment=cifar10_sngan"],
        ["experiment=cifar10_wgangp"],
        ["experiment=cifar10_dcgan"],
        [
            "model=resnet",
            "model.d_norm=spectral",
            "model.latent_classes=10",
            "model.conditional=true",
            "model.g_class_norm=true",
            "dataset.image_size=32",
        ],
    ],
)
def test_the_presets_and_a_conditional_resnet_train(tmp_path, overrides):
    tiny = ["model.ngf=8", "model.ndf=8", "model.nz=16", "train.steps=4", "train.ckpt_every=2"]
    data = ["dataset.name=fake", "dataset.image_size=32", "dataset.channels=3", "dataset.num_samples=64"]
    if "model.conditional=true" in overrides:
        data = ["dataset=digits", "dataset.channels=1"]  # labelled
    cfg = make_cfg([*FAST, *overrides, *tiny, *data])
    assert train(cfg, tmp_path / "run")["status"] == "completed"
    assert read_summary(tmp_path / "run")["step"] == 4


def test_sngan_initialisation_gains():
    """Xavier uniform with gain sqrt 2 in the residual 3x3 convolutions only: G's output convolution is 3x3
    too but starts with gain 1 (as in SNGAN's and mimicry's code), like the shortcuts and linear layers."""
    torch.manual_seed(0)
    G, D = MODELS.build(group_cfg(ModelConfig, "resnet", nz=32, ngf=64, ndf=64, d_norm="none"), (3, 32, 32))

    def gain(m: nn.Module) -> float:  # Xavier uniform's bound is gain * sqrt(6 / (fan_in + fan_out))
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(m.weight)
        return m.weight.std().item() * 3**0.5 / (6 / (fan_in + fan_out)) ** 0.5

    assert gain(G.out) == pytest.approx(1.0, rel=0.1)
    assert gain(G.fc) == pytest.approx(1.0, rel=0.1)
    assert gain(G.blocks[0].conv1) == pytest.approx(2**0.5, rel=0.1)
    assert gain(G.blocks[0].shortcut) == pytest.approx(1.0, rel=0.1)
    assert gain(D.main[0].conv1) == pytest.approx(2**0.5, rel=0.1)
    assert gain(D.main[-1]) == pytest.approx(1.0, rel=0.2)


def test_widths_that_do_not_halve_evenly_are_refused_by_name():
    with pytest.raises(ConfigError, match="model.ngf=24: at 64 pixels .* multiple of 16"):
        MODELS.build(group_cfg(ModelConfig, "resnet", nz=8, ngf=24, ndf=32, d_norm="none"), (3, 64, 64))
    with pytest.raises(ConfigError, match="model.ndf=8"):
        MODELS.build(group_cfg(ModelConfig, "resnet", nz=8, ngf=16, ndf=8, d_norm="none"), (3, 48, 48))
    MODELS.build(
        group_cfg(ModelConfig, "resnet", nz=8, ngf=24, ndf=8, d_norm="none"), (3, 32, 32)
    )  # all equal
