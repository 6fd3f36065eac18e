"""Multilayer perceptrons as in the original GAN paper: a ReLU generator and a maxout discriminator."""

from __future__ import annotations

import math

from torch import Tensor, nn

from gan_cli.nets import MODELS


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
    def __init__(self, nz: int, shape: tuple[int, ...], hidden: int, layers: int, image: bool) -> None:
        super().__init__()
        self.nz, self.shape = nz, tuple(shape)
        blocks: list[nn.Module] = []
        width = nz
        for _ in range(layers):
            blocks += [nn.Linear(width, hidden), nn.ReLU(inplace=True)]
            width = hidden
        blocks.append(nn.Linear(width, math.prod(shape)))
        if image:
            blocks.append(nn.Tanh())  # images live in [-1, 1]; 2-D points are unbounded
        self.net = nn.Sequential(*blocks)

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, *shape]
        return self.net(z).view(z.shape[0], *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, shape: tuple[int, ...], hidden: int, layers: int, pieces: int, dropout: float) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Flatten()]
        width = math.prod(shape)
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

    def forward(self, x: Tensor) -> Tensor:  # x [N, *shape] -> logits [N]
        return self.net(x).squeeze(1)


@MODELS.register("mlp")
def mlp(cfg, shape: tuple[int, ...], pac: int = 1) -> tuple[nn.Module, nn.Module]:
    image = len(shape) == 3
    G = MLPGenerator(cfg.nz, shape, cfg.g_hidden, cfg.g_layers, image)
    d_shape = (shape[0] * pac, *shape[1:])  # PacGAN: pac samples side by side
    D = MLPDiscriminator(d_shape, cfg.d_hidden, cfg.d_layers, cfg.maxout_pieces, cfg.dropout)
    return G, D
