"""Multilayer perceptrons as in the original GAN paper: a ReLU generator and a maxout discriminator.

Options for sharply concentrated 2-D mixtures (PacGAN's grid): batch norm in G (as in PacGAN's code) and
random Fourier features (Tancik et al. 2020) at D's input so that D resolves structure at the scale of
the modes, which a plain MLP, biased towards smooth functions, learns only slowly.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gan_cli.nets.base import MODELS, DOut, spectral_normalize


class Maxout(nn.Module):
    """A linear layer with `pieces` outputs per unit, keeping the largest (Goodfellow et al. 2013)."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        # max(dim) routes the gradient through the winning index; amax's tie-splitting backward is ~4x slower
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces).max(dim=2).values


class MLPGenerator(nn.Module):
    """ReLU layers and a linear output: a continuous map from the latent to the data."""

    def __init__(
        self,
        nz: int,
        shape: tuple[int, ...],
        hidden: int,
        layers: int,
        image: bool,
        norm: str = "none",
    ) -> None:
        super().__init__()
        self.nz, self.shape = nz, tuple(shape)
        blocks: list[nn.Module] = []
        width = nz
        for _ in range(layers):
            if norm == "batch":  # BN's shift replaces the bias
                blocks += [nn.Linear(width, hidden, bias=False), nn.BatchNorm1d(hidden)]
                blocks.append(nn.ReLU(inplace=True))
            else:
                blocks += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        blocks.append(nn.Linear(width, math.prod(shape)))
        if image:
            blocks.append(nn.Tanh())  # images live in [-1, 1]; 2-D points are unbounded
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, *shape]
        return self.net(z).view(z.shape[0], *self.shape)


class FourierFeatures(nn.Module):
    """x -> [sin(xB), cos(xB)] with B [in, features] drawn once from N(0, scale^2) and saved with the model
    (a buffer, not trained)."""

    def __init__(self, in_features: int, features: int, scale: float) -> None:
        super().__init__()
        self.register_buffer("B", torch.randn(in_features, features) * scale)

    def forward(self, x: Tensor) -> Tensor:
        proj = x @ self.B.to(x.dtype)
        return torch.cat([proj.sin(), proj.cos()], dim=1)


class MLPDiscriminator(nn.Module):
    def __init__(
        self,
        shape: tuple[int, ...],
        hidden: int,
        layers: int,
        pieces: int,
        dropout: float,
        fourier: int = 0,
        fourier_scale: float = 1.0,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
        if fourier:
            blocks.append(FourierFeatures(width, fourier, fourier_scale))
            width = 2 * fourier
        for _ in range(layers):
            if dropout > 0:
                blocks.append(nn.Dropout(dropout))
            if pieces > 1:
                blocks.append(Maxout(width, hidden, pieces))
            else:
                blocks += [nn.Linear(width, hidden), nn.LeakyReLU(0.2, inplace=True)]
            width = hidden
        blocks.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*blocks)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:  # x [N, *shape] -> logits [N]
        return DOut(self.net(x).squeeze(1))


@MODELS.register("mlp")
def mlp(cfg, shape: tuple[int, ...], pac: int = 1) -> tuple[nn.Module, nn.Module]:
    image = len(shape) == 3
    G = MLPGenerator(
        cfg.nz,
        shape,
        cfg.g_hidden,
        cfg.g_layers,
        image,
        cfg.get("g_norm", "none"),
    )
    d_shape = (shape[0] * pac, *shape[1:])  # PacGAN: pac samples side by side
    D = MLPDiscriminator(
        d_shape,
        cfg.d_hidden,
        cfg.d_layers,
        cfg.maxout_pieces,
        cfg.dropout,
        cfg.get("d_fourier", 0),
        cfg.get("d_fourier_scale", 1.0),
    )
    if cfg.get("d_norm", "batch") == "spectral":  # (the other values leave the MLP's D unnormalised)
        D = spectral_normalize(D)
    return G, D
