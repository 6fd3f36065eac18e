"""tricks/latent_classes.py: the categorical latent is uniform, deterministic and fed one-hot."""

from __future__ import annotations

import torch

from gan_cli.models import build_models
from gan_cli.schema import ModelConfig
from tests.helpers import (
    group_cfg,
    with_model,
)


def test_categorical_latent_is_uniform_deterministic_and_fed_one_hot():
    from gan_cli.nets import CategoricalLatent, categorical

    z0 = torch.randn(200_000, generator=torch.Generator().manual_seed(0))
    onehot = categorical(z0, 25)
    assert onehot.shape == (200_000, 25)
    assert torch.equal(onehot.sum(1), torch.ones(200_000, dtype=onehot.dtype))
    shares = onehot.float().mean(0)
    assert shares.sub(1 / 25).abs().max() < 0.004  # uniform: each class 4% (binomial sd 0.04%)
    assert torch.equal(categorical(z0[:10], 25), onehot[:10])
    # the class is floor(Phi(z0) * K): z0 = 0 is the median, so with K = 2 it sits at the boundary
    assert categorical(torch.tensor([-3.0, -0.01, 0.01, 3.0]), 2).argmax(1).tolist() == [0, 0, 1, 1]
    G, _ = build_models(
        with_model(group_cfg(ModelConfig, "mlp", nz=3, latent_classes=5, g_hidden=8, g_layers=1)), (2,)
    )
    assert isinstance(G, CategoricalLatent) and G.G.net[0].in_features == 5 + 2  # one-hot + 2 continuous
    z = torch.randn(6, 3)
    first = G.G.net[0]
    seen = []
    first.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    G(z)
    assert torch.equal(seen[0][:, :5], categorical(z[:, 0], 5).float())
    assert torch.equal(seen[0][:, 5:], z[:, 1:])
