"""Wrappers around an architecture's G and D that the network tricks (gan_cli/tricks/) put on: a categorical
part of z (model.latent_classes), an InfoGAN Q head (model.info_weight), a projection discriminator
(model.conditional) and PacGAN's packing (model.pac). Each keeps D's calling convention, D(x, y) -> DOut.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.nets.base import DOut, spectral_norm


def category(z0: Tensor, classes: int, cdf: Tensor | None = None) -> Tensor:
    """The class [N] (long) that z0 ~ N(0, 1) picks: floor(Phi(z0) * classes), Phi the normal CDF, so
    uniformly; with `cdf` (the cumulative class shares [classes]), class k when cdf[k-1] <= Phi(z0) < cdf[k].
    Fixed z gives fixed classes (sample grids, seeds)."""
    u = 0.5 * (1 + torch.erf(z0.float() / math.sqrt(2)))
    if cdf is None:
        return (u * classes).long().clamp_(0, classes - 1)
    return torch.searchsorted(cdf.to(u.device), u.contiguous(), right=True).clamp_(0, classes - 1)


def categorical(z0: Tensor, classes: int) -> Tensor:
    """One-hot [N, classes] of category(z0, classes)."""
    return F.one_hot(category(z0, classes), classes)


class CategoricalLatent(nn.Module):
    """model.latent_classes=K: z's first coordinate picks one of K classes (uniformly), which G receives
    one-hot in front of z's other nz - 1 coordinates, so G can switch between disconnected modes instead of
    spreading samples between them. z stays N(0, I) of size nz: fixed noise and seeds work unchanged.

    weighted=True (model.conditional): the classes are drawn in the dataset's proportions instead, kept
    as a buffer `cdf` (cumulative shares, saved with G) that set_class_counts() fills from the labels."""

    def __init__(self, G: nn.Module, classes: int, weighted: bool = False) -> None:
        super().__init__()
        self.G, self.classes = G, classes
        self.cdf: Tensor | None
        if weighted:
            self.register_buffer("cdf", torch.arange(1, classes + 1, dtype=torch.float32) / classes)
        else:
            self.cdf = None

    @torch.no_grad()
    def set_class_counts(self, counts: Tensor) -> None:
        """Draw class k in proportion to counts[k] (the dataset's labels)."""
        if self.cdf is None:
            raise ValueError("this G draws its classes uniformly (weighted=False)")
        cdf = counts.double().cumsum(0) / counts.sum()
        self.cdf.copy_(cdf.float())
        self.cdf[-1] = 1.0

    def classes_of(self, z: Tensor) -> Tensor:
        """The class [N] that each latent vector picks."""
        return category(z[:, 0], self.classes, self.cdf)

    def z0_of(self, k: int) -> float:
        """A first latent coordinate that picks class k: the middle of its share of Phi's range."""
        cdf = (
            self.cdf.cpu().double()
            if self.cdf is not None
            else torch.arange(1, self.classes + 1) / self.classes
        )
        lo = float(cdf[k - 1]) if k else 0.0
        u = torch.tensor((lo + float(cdf[k])) / 2, dtype=torch.float64)
        return float(math.sqrt(2) * torch.erfinv(2 * u - 1))

    def g_input(self, z: Tensor) -> Tensor:
        """What the wrapped G reads for z: the class one-hot in front of z's other coordinates."""
        onehot = F.one_hot(self.classes_of(z), self.classes).to(z.dtype)
        return torch.cat([onehot, z[:, 1:]], dim=1)

    def forward(self, z: Tensor) -> Tensor:
        return self.G(self.g_input(z))


def _body(D: nn.Module) -> str:
    """The name of D's nn.Sequential (`main` or `net`) whose last layer gives the logit."""
    body = next((a for a in ("main", "net") if isinstance(getattr(D, a, None), nn.Sequential)), "")
    if not body:
        raise TypeError(f"{type(D).__name__} has no `main` or `net` nn.Sequential to put a head on")
    return body


class InfoHead(nn.Module):
    """InfoGAN's Q (Chen et al. 2016): a head beside D's last layer, on the same features, that estimates
    the class z picked (model.latent_classes logits) and z's first `continuous` continuous coordinates.
    D(x, y) gives DOut(logits, codes [N, classes + continuous]); inside a PacGAN D (pac > 1) Q reads each of
    the pac packed samples: logits [N / pac], codes [N, ...] in the order of the samples. The losses that
    train it are the infogan trick's (gan_cli/tricks/infogan.py)."""

    def __init__(self, D: nn.Module, classes: int, pac: int = 1, continuous: int = 0) -> None:
        super().__init__()
        self._body = _body(D)
        last = getattr(D, self._body)[-1]
        out = (classes + continuous) * pac
        if isinstance(last, nn.Conv2d):  # the same window as the logit, K outputs per packed sample
            q: nn.Module = nn.Conv2d(last.in_channels, out, last.kernel_size, last.stride, last.padding)
        elif isinstance(last, nn.Linear):
            q = nn.Linear(last.in_features, out)
        else:
            raise TypeError(f"D's last layer {type(last).__name__} is not a convolution or linear layer")
        self.D, self.q, self.classes, self.continuous = D, q, classes, continuous

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        body = getattr(self.D, self._body)
        for layer in body[:-1]:
            x = layer(x)
        return DOut(body[-1](x).flatten(), self.q(x).reshape(-1, self.classes + self.continuous))


class Projection(nn.Module):
    """A class-conditional D, the projection discriminator (Miyato and Koyama 2018), model.conditional:
    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, phi(x) the features D's last layer reads (flattened) and psi
    that layer. Real images bring their dataset labels; a generated image's label is the class its z picked
    (drawn in the dataset's proportions), so G's class k learns the dataset's class k. D judges each image
    against its label: an image of the wrong class, or a class drawn in too few ways, is fake. With
    `spectral` (model.d_norm=spectral) the embedding is spectrally normalised too."""

    def __init__(self, D: nn.Module, classes: int, spectral: bool = False) -> None:
        super().__init__()
        self._body = _body(D)
        last = getattr(D, self._body)[-1]
        if isinstance(last, nn.Conv2d):  # a window that covers the whole feature map: one logit per image
            features = last.in_channels * math.prod(last.kernel_size)
        elif isinstance(last, nn.Linear):
            features = last.in_features
        else:
            raise TypeError(f"D's last layer {type(last).__name__} is not a convolution or linear layer")
        self.D, self.classes = D, classes
        self.embed = nn.Embedding(classes, features)
        if spectral:  # model.d_norm=spectral: the projection term is constrained as D's layers are, and
            # starts as in Miyato and Koyama's code (and mimicry's SNGAN): Xavier, spectrally normalised
            nn.init.xavier_uniform_(self.embed.weight)
            spectral_norm(self.embed)
        else:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        if y is None:
            raise ValueError("a conditional D judges each sample with its label: call D(x, y)")
        body = getattr(self.D, self._body)
        for layer in body[:-1]:
            x = layer(x)
        logits = body[-1](x).flatten()
        phi = x.flatten(1)
        if logits.shape[0] != x.shape[0] or phi.shape[1] != self.embed.embedding_dim:
            raise ValueError(f"D's last layer must read the whole feature map {list(x.shape[1:])} at once")
        return DOut(logits + (phi * self.embed(y).to(phi.dtype)).sum(1))


class Packed(nn.Module):
    """PacGAN (Lin et al. 2018): D judges `pac` samples at once, concatenated along the first feature axis
    (channels for images), so a mode-collapsed batch is easy to spot. [N, ...] -> logits [N / pac]."""

    def __init__(self, D: nn.Module, pac: int) -> None:
        super().__init__()
        self.D, self.pac = D, pac

    def pack(self, x: Tensor) -> Tensor:
        """[N, C, ...] -> [N / pac, pac * C, ...]: the input the inner D sees."""
        if x.shape[0] % self.pac:
            raise ValueError(f"model.pac={self.pac} needs a batch that is a multiple of it, got {x.shape[0]}")
        return x.reshape(x.shape[0] // self.pac, self.pac * x.shape[1], *x.shape[2:])

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        return self.D(self.pack(x))  # labels: the schema refuses model.conditional with packing

    def single(self, x: Tensor) -> DOut:
        """D's output for each sample packed with copies of itself [N] (for heat maps)."""
        return self(x.repeat_interleave(self.pac, dim=0))


def single(D: nn.Module, x: Tensor) -> Tensor:
    """D's logit for each sample in x on its own [N], packed or not."""
    return (D.single(x) if isinstance(D, Packed) else D(x)).logits
