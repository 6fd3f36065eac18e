"""Networks: each config in conf/model/ names a builder here returning (G, D) for a data shape."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import Tensor, nn

from gan_cli.registry import Registry

MODELS = Registry("model")


class Packed(nn.Module):
    """PacGAN (Lin et al. 2018): D judges `pac` samples at once, concatenated along the first feature axis
    (channels for images), so a mode-collapsed batch is easy to spot. [N, ...] -> logits [N / pac]."""

    def __init__(self, D: nn.Module, pac: int) -> None:
        super().__init__()
        self.D, self.pac = D, pac

    def forward(self, x: Tensor, with_code: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if x.shape[0] % self.pac:
            raise ValueError(f"model.pac={self.pac} needs a batch that is a multiple of it, got {x.shape[0]}")
        packed = x.reshape(x.shape[0] // self.pac, self.pac * x.shape[1], *x.shape[2:])
        return self.D(packed, with_code=True) if with_code else self.D(packed)  # codes: one row per sample

    def single(self, x: Tensor) -> Tensor:
        """D's output for each sample packed with copies of itself [N] (for heat maps)."""
        return self(x.repeat_interleave(self.pac, dim=0))


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

    def forward(self, z: Tensor) -> Tensor:
        onehot = F.one_hot(self.classes_of(z), self.classes).to(z.dtype)
        return self.G(torch.cat([onehot, z[:, 1:]], dim=1))


class InfoHead(nn.Module):
    """InfoGAN (Chen et al. 2016), model.info_weight > 0: a Q head beside D's last layer, on the same
    features, predicts which of model.latent_classes classes z picked. Training adds info_weight times its
    cross-entropy on generated samples to D's loss (training Q) and to G's (so G makes the class visible):
    a lower bound on the mutual information between the class and the image, which pushes each class to
    one distinct kind of image instead of in-between ones. D(x) gives logits as ever; D(x, with_code=True)
    gives (logits [N], codes [N, classes + continuous]). Inside a PacGAN D (pac > 1) Q reads the codes of
    each of the pac packed samples: logits [N / pac], codes [N, ...] in the order of the samples.

    model.info_continuous=C: Q also estimates z's first C continuous coordinates (InfoGAN's continuous
    codes, a Gaussian of unit variance: half the squared error), so G must make them visible too, which
    keeps G from ignoring its continuous latent."""

    def __init__(self, D: nn.Module, classes: int, weight: float, pac: int = 1, continuous: int = 0) -> None:
        super().__init__()
        self._body = next((a for a in ("main", "net") if isinstance(getattr(D, a, None), nn.Sequential)), "")
        if not self._body:
            raise TypeError(f"{type(D).__name__} has no `main` or `net` nn.Sequential to share with a Q head")
        last = getattr(D, self._body)[-1]
        out = (classes + continuous) * pac
        if isinstance(last, nn.Conv2d):  # the same window as the logit, K outputs per packed sample
            q: nn.Module = nn.Conv2d(last.in_channels, out, last.kernel_size, last.stride, last.padding)
        elif isinstance(last, nn.Linear):
            q = nn.Linear(last.in_features, out)
        else:
            raise TypeError(f"D's last layer {type(last).__name__} is not a convolution or linear layer")
        self.D, self.q, self.classes, self.weight, self.continuous = D, q, classes, weight, continuous

    def forward(self, x: Tensor, with_code: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        if not with_code:
            return self.D(x)
        body = getattr(self.D, self._body)
        for layer in body[:-1]:
            x = layer(x)
        return body[-1](x).flatten(), self.q(x).reshape(-1, self.classes + self.continuous)

    def info_loss(self, codes: Tensor, z: Tensor) -> Tensor:
        """Cross-entropy of the class z picked, plus half the squared error of its continuous codes."""
        loss = F.cross_entropy(codes[:, : self.classes].float(), category(z[:, 0], self.classes))
        if self.continuous:
            c = z[:, 1 : 1 + self.continuous].float()
            loss = loss + 0.5 * (codes[:, self.classes :].float() - c).square().sum(1).mean()
        return loss


class Projection(nn.Module):
    """A class-conditional GAN with a projection discriminator (Miyato and Koyama 2018), model.conditional:
    D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, phi(x) the features D's last layer reads (flattened) and psi
    that layer. Real images bring their dataset labels; a generated image's label is the class its z picked
    (model.latent_classes, which G receives one-hot, drawn in the dataset's proportions), so G's class k
    learns the dataset's class k. D judges
    each image against its label: an image of the wrong class, or a class drawn in too few ways, is fake."""

    def __init__(self, D: nn.Module, classes: int) -> None:
        super().__init__()
        self._body = next((a for a in ("main", "net") if isinstance(getattr(D, a, None), nn.Sequential)), "")
        if not self._body:
            raise TypeError(f"{type(D).__name__} has no `main` or `net` nn.Sequential to project labels onto")
        last = getattr(D, self._body)[-1]
        if isinstance(last, nn.Conv2d):  # a window that covers the whole feature map: one logit per image
            features = last.in_channels * math.prod(last.kernel_size)
        elif isinstance(last, nn.Linear):
            features = last.in_features
        else:
            raise TypeError(f"D's last layer {type(last).__name__} is not a convolution or linear layer")
        self.D, self.classes = D, classes
        self.embed = nn.Embedding(classes, features)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        body = getattr(self.D, self._body)
        for layer in body[:-1]:
            x = layer(x)
        logits = body[-1](x).flatten()
        phi = x.flatten(1)
        if logits.shape[0] != x.shape[0] or phi.shape[1] != self.embed.embedding_dim:
            raise ValueError(f"D's last layer must read the whole feature map {list(x.shape[1:])} at once")
        return logits + (phi * self.embed(y).to(phi.dtype)).sum(1)


def projection(D: nn.Module) -> Projection | None:
    """D's projection head (model.conditional), or None."""
    return D if isinstance(D, Projection) else None


def info_head(D: nn.Module) -> InfoHead | None:
    """D's InfoGAN head (model.info_weight > 0), packed or not; None without one."""
    D = D.D if isinstance(D, Packed) else D
    return D if isinstance(D, InfoHead) else None


def build_models(cfg, shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for one sample's shape; D packs `model.pac` samples when pac > 1; G reads a categorical part
    of z when `model.latent_classes` > 0, which a Q head on D learns to read when `model.info_weight` > 0."""
    pac = int(cfg.get("pac", 1))
    classes = int(cfg.get("latent_classes", 0))
    info = float(cfg.get("info_weight", 0.0))
    if classes:  # the inner G reads K one-hot entries and nz - 1 continuous ones
        cfg = OmegaConf.merge(cfg, {"nz": cfg.nz - 1 + classes})
    G, D = MODELS.build(cfg, shape, pac)  # D's input: pac samples side by side
    if info > 0:
        D = InfoHead(D, classes, info, pac, int(cfg.get("info_continuous", 0)))
    if cfg.get("conditional", False):  # the schema refuses it with pac > 1 or an InfoGAN head
        D = Projection(D, classes)
    if pac > 1:
        D = Packed(D, pac)
    weighted = bool(cfg.get("conditional", False))  # classes in the dataset's shares (set by train)
    return (CategoricalLatent(G, classes, weighted) if classes else G), D


def single(D: nn.Module, x: Tensor) -> Tensor:
    """D's score of each sample in x on its own, packed or not."""
    return D.single(x) if isinstance(D, Packed) else D(x)


def latent(n: int, nz: int, device: torch.device, generator: torch.Generator | None = None) -> Tensor:
    """The prior p_z: standard normal [n, nz]."""
    return torch.randn(n, nz, device=device, generator=generator)


@torch.no_grad()
def generate(
    G: torch.nn.Module,
    nz: int,
    num: int,
    seed: int,
    device: torch.device,
    batch: int = 1024,
    label: int | None = None,
) -> Tensor:
    """num samples from G in eval mode, from a seeded generator of their own (the global RNG is untouched).
    label=k: every sample of class k of a model.latent_classes G (a CategoricalLatent; the dataset's label k
    when the run is conditional)."""
    was_training = G.training
    G.eval()
    gen = torch.Generator().manual_seed(seed)
    chunks = []
    for i in range(0, num, batch):
        z = latent(min(batch, num - i), nz, torch.device("cpu"), gen)
        if label is not None:  # z's first coordinate in the middle of that class's share
            z[:, 0] = G.z0_of(label)
        chunks.append(G(z.to(device)).float().cpu())
    G.train(was_training)
    return torch.cat(chunks)


from gan_cli.nets import dcgan as _dcgan  # noqa: E402,F401
from gan_cli.nets import mlp as _mlp  # noqa: E402,F401

__all__ = [
    "MODELS",
    "CategoricalLatent",
    "Packed",
    "Projection",
    "build_models",
    "categorical",
    "generate",
    "latent",
    "projection",
    "single",
]
