"""nets/mlp.py: the paper's MLPs, maxout, Fourier features and batch norm."""

from __future__ import annotations

import math

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


def test_atom_output_jumps_between_learned_points_and_keeps_the_shape():
    from gan_cli.nets.mlp import AtomOutput

    cfg = with_model(group_cfg(ModelConfig, "mlp", nz=3, g_hidden=16, g_layers=2, g_atoms=8))
    G, _ = build_models(cfg, (2,))
    assert isinstance(G.atoms, AtomOutput) and G.atoms.points.shape == (8, 2)
    assert G(torch.randn(64, 3)).shape == (64, 2)
    plain, _ = build_models(with_model(group_cfg(ModelConfig, "mlp", nz=3, g_hidden=16, g_layers=2)), (2,))
    assert plain.atoms is None
    layer = AtomOutput(4, 2, 4)
    with torch.no_grad():  # without the linear term, sharp weights put each output on one of the points
        layer.gate.weight.copy_(10 * torch.eye(4))
        layer.gate.bias.zero_()
        layer.linear.weight.zero_()
        layer.linear.bias.zero_()
        out = layer(torch.eye(4))
        points = 10 * layer.points
    assert torch.allclose(out, points, atol=1e-3 * points.abs().max().item())
    with torch.no_grad():  # halfway between two inputs: halfway between their points
        mid = layer(torch.tensor([[0.5, 0.5, 0.0, 0.0]]))
    assert torch.allclose(mid[0], (points[0] + points[1]) / 2, atol=1e-5)


def test_atom_offset_bounds_the_linear_term():
    from gan_cli.nets.mlp import AtomOutput

    layer = AtomOutput(4, 2, 4, offset=0.5)
    with torch.no_grad():  # one sharp point per input, and a linear term that would move it by 100
        layer.gate.weight.copy_(10 * torch.eye(4))
        layer.gate.bias.zero_()
        layer.linear.weight.fill_(100.0)
        out = layer(torch.eye(4))
        points = 10 * layer.points
    shift = (out - points).abs()
    assert shift.max().item() <= 0.5 + 1e-4 and shift.min().item() > 0.49  # tanh saturates at the bound
    cfg = with_model(
        group_cfg(ModelConfig, "mlp", nz=3, g_hidden=16, g_layers=2, g_atoms=8, g_atoms_offset=0.3)
    )
    G, _ = build_models(cfg, (2,))
    assert G.atoms.offset == 0.3


def test_atom_imbalance_is_log_k_minus_the_information_the_latent_gives_about_the_point():
    from gan_cli.nets.mlp import AtomOutput

    layer = AtomOutput(4, 2, 4)
    layer(torch.randn(8, 4))  # not asked for (no model.g_atoms_balance): not computed
    assert layer.imbalance is None
    layer.measure = True
    with torch.no_grad():
        layer.gate.weight.copy_(10 * torch.eye(4))
        layer.gate.bias.zero_()
    layer(torch.eye(4).repeat(2, 1))  # each sample on its own point, every point used evenly: I = log 4
    assert layer.imbalance.item() == pytest.approx(0.0, abs=1e-3)
    with torch.no_grad():
        layer.gate.weight.zero_()
    layer(torch.randn(8, 4))  # even use, but every sample's weights equal: I = 0
    assert layer.imbalance.item() == pytest.approx(math.log(4), rel=1e-4)
    with torch.no_grad():
        layer.gate.bias.copy_(torch.tensor([20.0, 0.0, 0.0, 0.0]))
    layer(torch.randn(8, 4))  # sharp, but every sample on point 0: I = 0
    assert layer.imbalance.item() == pytest.approx(math.log(4), rel=1e-3)
    layer.eval()
    layer.imbalance = None
    layer(torch.randn(8, 4))  # sampling leaves it alone
    assert layer.imbalance is None


def test_hard_atoms_put_every_sample_on_one_point_and_still_train_the_gate():
    from gan_cli.nets.mlp import AtomOutput

    layer = AtomOutput(4, 2, 4, hard=True)
    h = torch.randn(64, 4)
    out = layer(h)
    points = 10 * layer.points
    nearest = torch.cdist(out - layer.linear(h), points).min(dim=1).values
    assert nearest.max().item() < 1e-3  # no sample between points, however soft the weights
    layer.hard = False
    with torch.no_grad():
        soft = torch.cdist(layer(h) - layer.linear(h), points).min(dim=1).values
    assert soft.max().item() > 0.1  # (at the start the soft weights mix points)
    layer.hard = True
    out.sum().backward()
    assert layer.gate.weight.grad.abs().sum() > 0  # the softmax's gradient reaches the gate


def test_atom_points_start_as_a_gaussian_or_a_cube_of_the_given_std():
    from gan_cli.nets.mlp import POINT_SCALE, AtomOutput

    torch.manual_seed(0)
    normal = POINT_SCALE * AtomOutput(4, 2, 20000, spread=3.0).points.detach()
    cube = POINT_SCALE * AtomOutput(4, 2, 20000, spread=3.0, start="uniform").points.detach()
    for points in (normal, cube):
        assert torch.allclose(points.std(dim=0), torch.tensor([3.0, 3.0]), rtol=0.03)
    edge = 3.0 * 3**0.5
    assert cube.abs().max() <= edge and normal.abs().max() > edge  # the cube has no tails
    # the cube puts as many points in its outer fifth as in its middle fifth; the Gaussian far fewer
    outer, middle = ((cube[:, 0] > 0.6 * edge).float().mean(), (cube[:, 0].abs() < 0.2 * edge).float().mean())
    assert abs(outer / middle - 1) < 0.1
    outer, middle = (
        (normal[:, 0] > 0.6 * edge).float().mean(),
        (normal[:, 0].abs() < 0.2 * edge).float().mean(),
    )
    assert outer / middle < 0.6
