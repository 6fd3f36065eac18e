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
    def __init__(
        self,
        nz: int,
        shape: tuple[int, ...],
        hidden: int,
        layers: int,
        image: bool,
        norm: str = "none",
        atoms: int = 0,
        offset: float = 0.0,
        spread: float = 1.0,
        hard: bool = False,
        snap: int = 0,
        start: str = "normal",
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
        self.atoms = (
            AtomOutput(width, math.prod(shape), atoms, offset, spread, hard, start) if atoms else None
        )
        if not atoms:
            blocks.append(nn.Linear(width, math.prod(shape)))
        if image:
            blocks.append(nn.Tanh())  # images live in [-1, 1]; 2-D points are unbounded
        self.net = nn.Sequential(*blocks)
        self.snap = SnapOutput(snap, math.prod(shape)) if snap else None

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, *shape]
        x = self.net(z)
        if self.atoms is not None:
            x = self.atoms(x)
        if self.snap is not None:
            x = self.snap(x)
        return x.view(z.shape[0], *self.shape)


# AtomOutput's points are stored at 1/10 scale: Adam moves a parameter by about lr a step whatever its size,
# and the points must travel across the data (units, not thousandths) within a few thousand steps
POINT_SCALE = 10.0
# SnapOutput's at 1/30: they start where G put its samples, some between modes, and must reach a mode in the
# last part of training, when the learning rate has decayed (10 left 8% of the samples on such points, 30 ...)
SNAP_SCALE = 30.0
GATE_SCALE = 10.0  # AtomOutput's logits are 10 x a linear layer's: Adam sharpens the weights 10 x sooner


class AtomOutput(nn.Module):
    """G's output layer as a softmax-weighted average of `atoms` learned points plus a linear term:
    out = softmax(h W) C + h V, or with `offset` > 0 softmax(h W) C + offset tanh(h V). The weights are
    computed from the continuous latent (there is no categorical draw); sharp softmax weights let G jump
    between distant points where a plain linear output must pass through the space between them. A bounded
    linear term can spread samples around a point but not carry them from one point to another: the points
    must then do that job. With `hard` each sample takes its heaviest point alone (model.g_atoms_hard)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        atoms: int,
        offset: float = 0.0,
        spread: float = 1.0,
        hard: bool = False,
        start: str = "normal",
    ) -> None:
        super().__init__()
        self.offset, self.hard = offset, hard
        # with `measure` set (model.g_atoms_balance, tricks/atoms.py), each training pass sets `imbalance`:
        # KL(the batch's mean weights || uniform) + the mean entropy of each sample's weights, that is
        # log(atoms) minus the mutual information between the latent and the point it picks
        self.measure = False
        self.imbalance: Tensor | None = None
        self.gate = nn.Linear(in_features, atoms)
        if start == "uniform":  # a cube of std `spread`: as many points start near every part of it
            points = (2 * torch.rand(atoms, out_features) - 1) * math.sqrt(3)
        else:
            points = torch.randn(atoms, out_features)
        self.points = nn.Parameter(points * spread / POINT_SCALE)
        self.linear = nn.Linear(in_features, out_features)

    def forward(self, h: Tensor) -> Tensor:  # h [N, in] -> [N, out]
        linear = self.linear(h)
        if self.offset:
            linear = self.offset * torch.tanh(linear)
        weights = (GATE_SCALE * self.gate(h)).softmax(dim=1)
        if self.training and self.measure:  # log K - I(latent; point) over the batch
            w = weights.float()
            usage = w.mean(dim=0)
            uneven = (usage * (usage * len(usage)).clamp_min(1e-12).log()).sum()  # KL(use || uniform)
            blurred = -(w * w.clamp_min(1e-12).log()).sum(dim=1).mean()  # each sample's entropy
            self.imbalance = uneven + blurred
        if self.hard:  # the heaviest point alone, with the softmax's gradient (straight through)
            one_hot = nn.functional.one_hot(weights.argmax(dim=1), weights.shape[1]).to(weights.dtype)
            weights = one_hot + weights - weights.detach()
        return weights @ (POINT_SCALE * self.points).to(h.dtype) + linear


class SnapOutput(nn.Module):
    """G's output moved onto the nearest of `points` learned points (model.g_snap), once they are set.

    Until then it passes G's output through. tricks/snap.py sets the points once, to G's own outputs on as
    many fresh latents, for the last model.g_snap_last of training; from then on each sample is the point
    nearest to where G's continuous part puts it, and D's gradient trains the points alone. G's continuous
    part then only decides each point's share of the samples (those that fall nearest to it), as it did when
    the points were set; the points move onto D's modes and no sample lies between them. (Passing D's
    gradient on to G's output as well, straight through, was measured: G's outputs then drift with a
    gradient taken elsewhere, and the outer points, whose cells are unbounded, collect the samples.)
    `ready` (saved with the model) says the points are set, so a resumed run and gan-sample snap as
    training did."""

    def __init__(self, points: int, features: int) -> None:
        super().__init__()
        self.points = nn.Parameter(torch.zeros(points, features))  # stored at 1 / SNAP_SCALE
        self.register_buffer("ready", torch.zeros((), dtype=torch.bool))
        self.on = False  # mirrors `ready` as a plain bool: forward reads no tensor to decide
        self.register_load_state_dict_post_hook(lambda module, keys: module.sync())

    def sync(self) -> None:
        self.on = bool(self.ready)

    @torch.no_grad()
    def set_points(self, outputs: Tensor) -> None:  # outputs [points, features]: G's own samples
        self.points.copy_(outputs.float() / SNAP_SCALE)
        self.ready.fill_(True)
        self.on = True

    def forward(self, x: Tensor) -> Tensor:  # x [N, features]
        if not self.on:
            return x
        points = SNAP_SCALE * self.points
        nearest = torch.cdist(x.detach().float(), points.detach()).argmin(dim=1)  # [N]
        return points[nearest].to(x.dtype)


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
        cfg.get("g_atoms", 0),
        cfg.get("g_atoms_offset", 0.0),
        cfg.get("g_atoms_spread", 1.0),
        cfg.get("g_atoms_hard", 0.0) > 0,  # training sets it by the step (tricks/atoms.py)
        cfg.get("g_snap", 0),
        cfg.get("g_atoms_start", "normal"),
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
