"""Networks: shapes for every supported size, and equality with the reference architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from benchmarks.reference import ClassicDiscriminator, ClassicGenerator
from gan_cli.errors import ConfigError
from gan_cli.nets import MODELS
from gan_cli.schema import ModelConfig
from tests.conftest import group_cfg


def model_cfg(name: str, **kw):
    return group_cfg(ModelConfig, name, **kw)


def test_dcgan_at_64_is_exactly_the_classic_example():
    G, D = MODELS.build(model_cfg("dcgan"), (3, 64, 64))
    ref_G, ref_D = ClassicGenerator(), ClassicDiscriminator()
    # Same parameters and buffers, name by name and shape by shape...
    assert {k: v.shape for k, v in G.state_dict().items()} == {
        k: v.shape for k, v in ref_G.state_dict().items()
    }
    assert {k: v.shape for k, v in D.state_dict().items()} == {
        k: v.shape for k, v in ref_D.state_dict().items()
    }
    assert sum(p.numel() for p in G.parameters()) == 3_576_704
    assert sum(p.numel() for p in D.parameters()) == 2_765_568
    # ...and the same function: with the same weights, same outputs (ours are logits, theirs sigmoid).
    ref_G.load_state_dict(G.state_dict())
    ref_D.load_state_dict(D.state_dict())
    G.eval(), D.eval(), ref_G.eval(), ref_D.eval()
    z = torch.randn(4, 100)
    with torch.no_grad():
        fake = G(z)
        assert torch.allclose(fake, ref_G(z.view(4, 100, 1, 1)), atol=1e-6)
        assert torch.allclose(torch.sigmoid(D(fake)), ref_D(fake), atol=1e-6)


@pytest.mark.parametrize("size", [8, 16, 28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_adapts_to_size_and_channels(size, channels):
    G, D = MODELS.build(model_cfg("dcgan", ngf=8, ndf=8, nz=12), (channels, size, size))
    fake = G(torch.randn(5, 12))
    assert fake.shape == (5, channels, size, size)
    assert fake.min() >= -1 and fake.max() <= 1  # tanh output, like the data
    assert D(fake).shape == (5,)


def test_dcgan_at_28_follows_seed_004():
    G, D = MODELS.build(model_cfg("dcgan"), (1, 28, 28))
    linear_g = [m.out_features for m in G.modules() if isinstance(m, nn.Linear)]
    assert linear_g == [1024, 7 * 7 * 128]
    convs_g = [
        (m.in_channels, m.out_channels, m.kernel_size, m.stride)
        for m in G.modules()
        if isinstance(m, nn.ConvTranspose2d)
    ]
    assert convs_g == [(128, 64, (4, 4), (2, 2)), (64, 1, (4, 4), (2, 2))]
    convs_d = [(m.out_channels, m.kernel_size) for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert convs_d == [(32, (5, 5)), (64, (5, 5))]
    assert [m.out_features for m in D.modules() if isinstance(m, nn.Linear)] == [1024, 1]
    assert [m.negative_slope for m in D.modules() if isinstance(m, nn.LeakyReLU)] == [0.01] * 3
    assert sum(isinstance(m, nn.MaxPool2d) for m in D.modules()) == 2


def test_dcgan_d_norm_options():
    for norm, kind in (("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)):
        _, D = MODELS.build(model_cfg("dcgan", d_norm=norm, ngf=8, ndf=8), (1, 32, 32))
        assert any(isinstance(m, kind) for m in D.modules())
    _, D = MODELS.build(model_cfg("dcgan", d_norm="none", ngf=8, ndf=8), (1, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm) for m in D.modules())


def test_dcgan_refuses_sizes_it_cannot_build_and_points():
    with pytest.raises(ConfigError, match="image_size=24"):
        MODELS.build(model_cfg("dcgan"), (1, 24, 24))
    with pytest.raises(ConfigError, match="model=mlp"):
        MODELS.build(model_cfg("dcgan"), (2,))


def test_mlp_for_points_and_images():
    G, D = MODELS.build(model_cfg("mlp", nz=4, g_hidden=16, d_hidden=16), (2,))
    points = G(torch.randn(7, 4))
    assert points.shape == (7, 2) and D(points).shape == (7,)
    assert sum(m.__class__.__name__ == "Maxout" for m in D.modules()) == 2  # the paper's maxout D
    G, D = MODELS.build(model_cfg("mlp", nz=4, g_hidden=16, d_hidden=16), (1, 8, 8))
    images = G(torch.randn(3, 4))
    assert images.shape == (3, 1, 8, 8) and images.abs().max() <= 1
    assert D(images).shape == (3,)
    _, D = MODELS.build(model_cfg("mlp", maxout_pieces=1, dropout=0.5), (2,))
    assert any(isinstance(m, nn.LeakyReLU) for m in D.modules())
    assert any(isinstance(m, nn.Dropout) for m in D.modules())


def test_maxout_keeps_the_largest_piece():
    from gan_cli.nets.mlp import Maxout

    layer = Maxout(1, 2, 3)
    with torch.no_grad():
        layer.linear.weight.copy_(torch.tensor([[1.0], [2.0], [-1.0], [0.0], [-3.0], [0.5]]))
        layer.linear.bias.zero_()
    out = layer(torch.tensor([[2.0], [-1.0]]))
    assert out.tolist() == [[4.0, 1.0], [1.0, 3.0]]


def test_unknown_model_lists_known():
    with pytest.raises(ConfigError, match="dcgan, mlp"):
        MODELS.get("resnet")
