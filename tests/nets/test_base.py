"""nets/base.py: D's output type, the prior, sampling from G, and spectral normalisation of D."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.nets import MODELS, DOut, generate
from gan_cli.nets.base import spectral_normalize
from gan_cli.schema import ModelConfig
from tests.helpers import group_cfg


def largest_singular_value(m: nn.Module) -> float:
    w = m.weight  # the normalised weight
    w = w.transpose(0, 1) if isinstance(m, nn.ConvTranspose2d) else w
    return torch.linalg.matrix_norm(w.detach().flatten(1), ord=2).item()


@pytest.mark.parametrize(
    ("name", "shape"),
    [("dcgan", (1, 16, 16)), ("dcgan", (1, 28, 28)), ("mlp", (2,)), ("resnet", (3, 32, 32))],
)
def test_spectral_norm_puts_every_layer_of_d_at_singular_value_one(name, shape):
    torch.manual_seed(0)
    cfg = group_cfg(ModelConfig, name, ngf=8, ndf=8, nz=4, d_hidden=16, d_norm="spectral")
    _, D = MODELS.build(cfg, shape)
    layers = [m for m in D.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in D.modules())
    with torch.no_grad():
        for _ in range(50):  # power iterations, one per training forward
            out = D(torch.randn(4, *shape))
    assert isinstance(out, DOut) and out.logits.shape == (4,)
    for m in layers:
        assert largest_singular_value(m) == pytest.approx(1.0, abs=0.02)
    assert any(k.endswith("._u") for k in D.state_dict())  # the iteration's state is saved


def test_spectral_normalize_leaves_other_layers_alone():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
    spectral_normalize(net)
    assert hasattr(net[0], "parametrizations") and not hasattr(net[1], "parametrizations")


def test_generate_is_seeded_and_leaves_the_global_rng_alone():
    G = nn.Sequential(nn.Linear(3, 2))
    state = torch.get_rng_state()
    a, b = generate(G, 3, 10, 5, torch.device("cpu"), batch=4), generate(G, 3, 10, 5, torch.device("cpu"))
    assert a.shape == (10, 2) and torch.allclose(a, b) and torch.equal(torch.get_rng_state(), state)
