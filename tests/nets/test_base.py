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


def test_generate_draws_large_images_in_chunks_that_fit_in_memory():
    """A 256x256 RGB G gets at most OUTPUT_BUDGET output values a forward (21 images), not 1024 at once
    (a 64-px StyleGAN2 at 1024 a chunk held some 20 GB), and the samples are the same as one by one."""
    from gan_cli.nets.base import OUTPUT_BUDGET

    seen = []

    class Big(nn.Module):
        def forward(self, z):
            seen.append(len(z))
            return z[:, :3, None, None].expand(-1, 3, 256, 256) * 1.0

    a = generate(Big(), 4, 50, 0, torch.device("cpu"))
    assert max(seen) == OUTPUT_BUDGET // (3 * 256 * 256) == 21 and sum(seen) == 50 + 1  # (+1: the probe)
    assert torch.equal(a, generate(Big(), 4, 50, 0, torch.device("cpu"), batch=1))

    class Small(nn.Module):
        def forward(self, z):
            seen.append(len(z))
            return z[:, :2]

    seen.clear()
    generate(Small(), 3, 1500, 0, torch.device("cpu"))
    assert seen == [1, 1024, 476]  # small outputs keep the asked batch
