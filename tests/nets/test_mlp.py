"""nets/mlp.py: the paper's MLPs, maxout, Fourier features and batch norm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.models import build_models
from gan_cli.nets import MODELS
from gan_cli.schema import ModelConfig
from tests.helpers import (
    group_cfg,
    with_model,
)


def model_cfg(name: str, **kw):
    return group_cfg(ModelConfig, name, **kw)


def test_mlp_for_points_and_images():
    G, D = MODELS.build(model_cfg("mlp", nz=4, g_hidden=16, d_hidden=16), (2,))
    points = G(torch.randn(7, 4))
    assert points.shape == (7, 2) and D(points).logits.shape == (7,)
    assert sum(m.__class__.__name__ == "Maxout" for m in D.modules()) == 2  # the paper's maxout D
    G, D = MODELS.build(model_cfg("mlp", nz=4, g_hidden=16, d_hidden=16), (1, 8, 8))
    images = G(torch.randn(3, 4))
    assert images.shape == (3, 1, 8, 8) and images.abs().max() <= 1
    assert D(images).logits.shape == (3,)
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


def test_fourier_features_and_batch_norm_in_the_mlp():
    sizes = {"nz": 2, "g_hidden": 8, "g_layers": 2, "d_hidden": 8}
    cfg = with_model(group_cfg(ModelConfig, "mlp", **sizes, g_norm="batch", d_fourier=16))
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
    _, D4 = build_models(with_model(group_cfg(ModelConfig, "mlp", d_fourier=4000, d_fourier_scale=3.0)), (2,))
    assert D4.net[1].B.std().item() == pytest.approx(3.0, rel=0.05)
