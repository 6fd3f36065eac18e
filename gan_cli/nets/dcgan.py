"""DCGAN networks that adapt to the image size.

Sizes 4 * 2^n (8, 16, 32, 64, ...) follow the classic PyTorch DCGAN example, which they equal exactly at
64x64 with nz=100 and ngf=ndf=64. Size 28 is a small MNIST DCGAN (fully connected layers into two
transposed convolutions).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gan_cli.errors import ConfigError
from gan_cli.nets.base import MODELS, DOut, spectral_normalize
from gan_cli.nets.conv import Conv2d, ConvTranspose2d


def _upsamplings(size: int) -> int | None:
    """n such that size == 4 * 2^n with n >= 1, else None."""
    n = 0
    while size > 4 and size % 2 == 0:
        size //= 2
        n += 1
    return n if size == 4 and n >= 1 else None


def _norm2d(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)  # normalises over (C, H, W) of each sample
    return nn.Identity()  # none; spectral: the weights are normalised instead (spectral_normalize)


def _dropout(p: float) -> list[nn.Module]:
    """What follows each of D's hidden activations: dropout when p > 0 (model.dropout), else nothing."""
    return [nn.Dropout(p)] if p > 0 else []


def weights_init(m: nn.Module) -> None:
    """The DCGAN paper's initialisation: N(0, 0.02) convolutions, N(1, 0.02) norm scales."""
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d | nn.GroupNorm) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ClassBatchNorm2d(nn.Module):
    """Conditional batch norm (de Vries et al. 2017; the generators of Miyato & Koyama 2018 and BigGAN):
    batch statistics shared by all classes, then a scale 1 + y W_g and a shift y W_b of each class's own,
    y the one-hot class [N, classes]. Both W start near 0 (weights_init), that is, at plain batch norm."""

    def __init__(self, channels: int, classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.scale = nn.Linear(classes, channels, bias=False)
        self.shift = nn.Linear(classes, channels, bias=False)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        y = y.to(x.dtype)
        gamma = 1 + self.scale(y)
        return self.norm(x) * gamma[:, :, None, None] + self.shift(y)[:, :, None, None]


class DCGANGenerator(nn.Module):
    """classes=K (model.g_class_norm): z's first K coordinates are a one-hot class (a CategoricalLatent in
    front), which every batch norm also reads (ClassBatchNorm2d), not only the first layer."""

    def __init__(self, nz: int, ngf: int, nc: int, n: int, classes: int = 0) -> None:
        super().__init__()
        self.nz, self.classes = nz, classes

        def norm(channels: int) -> nn.Module:
            return ClassBatchNorm2d(channels, classes) if classes else nn.BatchNorm2d(channels)

        width = ngf * 2 ** (n - 1)
        layers: list[nn.Module] = [  # z [N, nz, 1, 1] -> [N, width, 4, 4]
            ConvTranspose2d(nz, width, 4, 1, 0, bias=False),
            norm(width),
            nn.ReLU(True),
        ]
        for _ in range(n - 1):  # doubles the size, halves the width
            layers += [
                ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                norm(width // 2),
                nn.ReLU(True),
            ]
            width //= 2
        layers += [ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, nc, S, S]
        x = z.view(z.shape[0], self.nz, 1, 1)
        if not self.classes:
            return self.main(x)
        y = z[:, : self.classes]
        for layer in self.main:
            x = layer(x, y) if isinstance(layer, ClassBatchNorm2d) else layer(x)
        return x


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation (Karras et al. 2018, as in StyleGAN2): one more feature map,
    the standard deviation of every feature across a group of `group` samples, averaged over the features
    and positions. A collapsed batch of near-identical samples has a small one, which D can then see (and
    batch norm in D's earlier layers cannot hide). Groups are samples i, i + N/g, i + 2N/g, ...; with a
    batch that `group` does not divide, the largest divisor of the batch below it is used."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n)
        while n % g:
            g -= 1
        y = x.float().reshape(g, n // g, c, h, w)
        y = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # [n / g]
        return torch.cat([x, y.to(x.dtype).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)], dim=1)


class DCGANDiscriminator(nn.Module):
    def __init__(self, ndf: int, nc: int, n: int, norm: str, mbstd: int = 0, dropout: float = 0.0) -> None:
        super().__init__()
        width = ndf
        layers: list[nn.Module] = [
            Conv2d(nc, width, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, True),
            *_dropout(dropout),
        ]
        for _ in range(n - 1):
            layers += [
                Conv2d(width, width * 2, 4, 2, 1, bias=False),
                _norm2d(norm, width * 2),
                nn.LeakyReLU(0.2, True),
                *_dropout(dropout),
            ]
            width *= 2
        if mbstd:
            layers.append(MinibatchStd(mbstd))
        layers.append(Conv2d(width + (1 if mbstd else 0), 1, 4, 1, 0, bias=False))  # [N, 1, 1, 1]: a logit
        self.main = nn.Sequential(*layers)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:  # x [N, nc, S, S] -> logits [N]
        return DOut(self.main(x).flatten())


class Mnist28Generator(nn.Module):
    """The 28x28 MNIST generator: FC 1024, FC 7*7*128, two transposed convolutions (ngf=64)."""

    def __init__(self, nz: int, ngf: int, nc: int) -> None:
        super().__init__()
        self.ngf = ngf
        self.fc = nn.Sequential(  # the seed applies ReLU before each batch norm
            nn.Linear(nz, 16 * ngf),
            nn.ReLU(True),
            nn.BatchNorm1d(16 * ngf),
            nn.Linear(16 * ngf, 7 * 7 * 2 * ngf),
            nn.ReLU(True),
            nn.BatchNorm1d(7 * 7 * 2 * ngf),
        )
        self.conv = nn.Sequential(
            nn.ConvTranspose2d(2 * ngf, ngf, 4, 2, 1),  # 7 -> 14
            nn.ReLU(True),
            nn.BatchNorm2d(ngf),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1),  # 14 -> 28
            nn.Tanh(),
        )

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, nc, 28, 28]
        return self.conv(self.fc(z).view(z.shape[0], 2 * self.ngf, 7, 7))


class Mnist28Discriminator(nn.Module):
    """The 28x28 MNIST discriminator: two 5x5 convolutions with max pooling, FC 1024, FC 1. With dropout > 0
    (model.dropout) each hidden activation is followed by dropout; with mbstd (model.d_mbstd) a minibatch
    standard deviation map joins the 4x4 features before the fully connected layers."""

    def __init__(self, ndf: int, nc: int, dropout: float = 0.0, mbstd: int = 0) -> None:
        super().__init__()
        features = ndf + (1 if mbstd else 0)
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf // 2, 5),  # 28 -> 24
            nn.LeakyReLU(0.01, True),
            *_dropout(dropout),
            nn.MaxPool2d(2, 2),  # -> 12
            nn.Conv2d(ndf // 2, ndf, 5),  # -> 8
            nn.LeakyReLU(0.01, True),
            *_dropout(dropout),
            nn.MaxPool2d(2, 2),  # -> 4
            *([MinibatchStd(mbstd)] if mbstd else []),
            nn.Flatten(),
            nn.Linear(4 * 4 * features, 16 * ndf),
            nn.LeakyReLU(0.01, True),
            *_dropout(dropout),
            nn.Linear(16 * ndf, 1),
        )

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:  # x [N, nc, 28, 28] -> logits [N]
        return DOut(self.main(x).squeeze(1))


@MODELS.register("dcgan")
def dcgan(cfg, shape: tuple[int, ...], pac: int = 1) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3:
        raise ConfigError(
            f"model=dcgan needs images, but the dataset gives points of shape {list(shape)}. "
            "Use model=mlp for the 2-D datasets (ring, grid)."
        )
    nc, size = shape[0], shape[1]
    mbstd, dropout = int(cfg.get("d_mbstd", 0)), float(cfg.get("dropout", 0.0))
    if size == 28:
        G, D = Mnist28Generator(cfg.nz, cfg.ngf, nc), Mnist28Discriminator(cfg.ndf, nc * pac, dropout, mbstd)
    else:
        n = _upsamplings(size)
        if n is None:
            raise ConfigError(
                f"model=dcgan cannot build networks for dataset.image_size={size}. "
                "Use 28 or 4 * 2^n: 8, 16, 32, 64, 128, 256."
            )
        classes = int(cfg.get("latent_classes", 0)) if cfg.get("g_class_norm", False) else 0
        G, D = (
            DCGANGenerator(cfg.nz, cfg.ngf, nc, n, classes),
            DCGANDiscriminator(cfg.ndf, nc * pac, n, cfg.d_norm, mbstd, dropout),
        )
    G.apply(weights_init)
    D.apply(weights_init)
    if cfg.get("d_norm", "batch") == "spectral":
        D = spectral_normalize(D)
    return G, D


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
