"""The ResNet generator and discriminator of SNGAN (Miyato et al. 2018, appendix B) for 32, 48, 64 and 128
pixels, grey or RGB, laid out as in SNGAN's code and kwotsin/mimicry (tests/fixtures/mimicry checks them
number for number against mimicry's networks).

G: z -> a linear layer to a bottom x bottom map (4x4; 6x6 at 48 pixels) of ngf channels, then up-sampling
residual blocks (batch norm, ReLU, nearest up-sampling, 3x3 convolutions; a 1x1 convolution on the
shortcut), then batch norm, ReLU, a 3x3 convolution to the image and tanh. D: an "optimized" first block
(convolutions before the first ReLU, average pooling on both paths), residual blocks, ReLU, global sum
pooling and a linear layer to the logit. At 32 pixels (the CIFAR-10 networks, Table 4) every block has ngf
(G) or ndf (D) channels; at 48 (STL-10, Table 5), 64 and 128 (the ImageNet networks of SNGAN's code) ngf
is G's widest width, halved block by block towards the image, and ndf D's widest, reached by doubling
from ndf / 16 as D down-samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.errors import ConfigError
from gan_cli.nets.base import MODELS, DOut, spectral_normalize
from gan_cli.nets.dcgan import ClassBatchNorm2d

BOTTOM = {32: 4, 48: 6, 64: 4, 128: 4}  # image size: G's first map
G_WIDTHS = {32: (1, 1, 1, 1), 48: (1, 2, 4, 8), 64: (1, 2, 4, 8, 16), 128: (1, 1, 2, 4, 8, 16)}  # ngf / d
# D's blocks: (ndf / d channels, down-sampling or not); the first is the optimized block
D_BLOCKS = {
    32: ((1, True), (1, True), (1, False), (1, False)),
    48: ((16, True), (8, True), (4, True), (2, True), (1, False)),
    64: ((16, True), (8, True), (4, True), (2, True), (1, True)),
    128: ((16, True), (8, True), (4, True), (2, True), (1, True), (1, False)),
}
SIZES = tuple(BOTTOM)


class GBlock(nn.Module):
    """Up-sampling residual block; with classes, each batch norm is conditional on the one-hot class y."""

    def __init__(self, cin: int, cout: int, classes: int = 0) -> None:
        super().__init__()
        self.bn1 = ClassBatchNorm2d(cin, classes) if classes else nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2 = ClassBatchNorm2d(cout, classes) if classes else nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1)

    @staticmethod
    def _norm(bn: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
        return bn(x, y) if isinstance(bn, ClassBatchNorm2d) else bn(x)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:  # [N, cin, S, S] -> [N, cout, 2S, 2S]
        h = F.interpolate(F.relu(self._norm(self.bn1, x, y)), scale_factor=2)
        h = self.conv2(F.relu(self._norm(self.bn2, self.conv1(h), y)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2))


class ResNetGenerator(nn.Module):
    def __init__(self, nz: int, widths: list[int], nc: int, bottom: int, classes: int = 0) -> None:
        super().__init__()
        self.nz, self.classes, self.bottom, self.width = nz, classes, bottom, widths[0]
        self.fc = nn.Linear(nz, bottom * bottom * widths[0])
        n = len(widths) - 1
        self.blocks = nn.ModuleList(GBlock(widths[i], widths[i + 1], classes) for i in range(n))
        self.bn = nn.BatchNorm2d(widths[-1])
        self.out = nn.Conv2d(widths[-1], nc, 3, 1, 1)

    def forward(self, z: Tensor) -> Tensor:  # z [N, nz] -> [N, nc, S, S]
        y = z[:, : self.classes] if self.classes else None  # one-hot class (model.g_class_norm)
        x = self.fc(z).view(z.shape[0], self.width, self.bottom, self.bottom)
        for block in self.blocks:
            x = block(x, y)
        return torch.tanh(self.out(F.relu(self.bn(x))))


class DBlock(nn.Module):
    """Residual block of D, down-sampling by average pooling or not; `optimized`: SNGAN's first block. As in
    SNGAN's code, a block that widens does so in its second convolution (the first keeps cin channels); the
    optimized block, which reads the image, widens in its first."""

    def __init__(self, cin: int, cout: int, down: bool, optimized: bool = False) -> None:
        super().__init__()
        hidden = cout if optimized else cin
        self.conv1 = nn.Conv2d(cin, hidden, 3, 1, 1)
        self.conv2 = nn.Conv2d(hidden, cout, 3, 1, 1)
        self.shortcut = nn.Conv2d(cin, cout, 1) if down or cin != cout else None
        self.down, self.optimized = down, optimized

    def forward(self, x: Tensor) -> Tensor:
        h = self.conv2(F.relu(self.conv1(x if self.optimized else F.relu(x))))
        if self.down:
            h = F.avg_pool2d(h, 2)
        if self.optimized:  # pool, then the 1x1 convolution
            return h + self.shortcut(F.avg_pool2d(x, 2))
        s = self.shortcut(x) if self.shortcut is not None else x
        return h + (F.avg_pool2d(s, 2) if self.down else s)


class SumPool(nn.Module):
    """Global sum pooling: [N, C, H, W] -> [N, C]."""

    def forward(self, x: Tensor) -> Tensor:
        return x.sum(dim=(2, 3))


class ResNetDiscriminator(nn.Module):
    def __init__(self, blocks: list[tuple[int, bool]], nc: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = nc
        for i, (out, down) in enumerate(blocks):
            layers.append(DBlock(width, out, down=down, optimized=i == 0))
            width = out
        # main: the blocks, then the features [N, width] the logit layer reads (a projection or Q head too)
        self.main = nn.Sequential(*layers, nn.ReLU(), SumPool(), nn.Linear(width, 1))

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:  # x [N, nc, S, S] -> logits [N]
        return DOut(self.main(x).squeeze(1))


def init_weights(net: nn.Module) -> None:
    """SNGAN's initialisation: Xavier uniform with gain sqrt 2 for the 3x3 convolutions of the residual
    paths and 1 elsewhere (the shortcuts, G's first linear layer and its output convolution, D's logit
    layer), biases 0."""
    residual = {id(c) for b in net.modules() if isinstance(b, GBlock | DBlock) for c in (b.conv1, b.conv2)}
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.xavier_uniform_(m.weight, gain=2**0.5 if id(m) in residual else 1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, ClassBatchNorm2d):  # per-class scale and shift start near plain batch norm
            nn.init.normal_(m.scale.weight, 0.0, 0.02)
            nn.init.normal_(m.shift.weight, 0.0, 0.02)


@MODELS.register("resnet")
def resnet(cfg, shape: tuple[int, ...], pac: int = 1) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3 or shape[1] not in SIZES:
        what = f"images of {shape[1]} pixels" if len(shape) == 3 else f"points of shape {list(shape)}"
        raise ConfigError(
            f"model=resnet builds networks for images of {', '.join(map(str, SIZES))} pixels, not {what}: "
            "set dataset.image_size to one of them, or use model=dcgan (any 4 * 2^n and 28) or model=mlp."
        )
    d_norm = cfg.get("d_norm", "none")
    if d_norm not in ("none", "spectral"):
        raise ConfigError(
            f"model.d_norm={d_norm}: the ResNet discriminator has no normalisation layers; use "
            "model.d_norm=spectral (SNGAN) or none."
        )
    size, nc = shape[1], shape[0]
    for key, widest, halvings in (
        ("ngf", cfg.ngf, max(G_WIDTHS[size])),
        ("ndf", cfg.ndf, D_BLOCKS[size][0][0]),
    ):
        if widest % halvings:
            raise ConfigError(
                f"model.{key}={widest}: at {size} pixels the ResNet halves it down to {key} / {halvings}, so "
                f"it must be a multiple of {halvings} (e.g. {halvings * max(1, widest // halvings)})."
            )
    classes = int(cfg.get("latent_classes", 0)) if cfg.get("g_class_norm", False) else 0
    G = ResNetGenerator(cfg.nz, [cfg.ngf // d for d in G_WIDTHS[size]], nc, BOTTOM[size], classes)
    D = ResNetDiscriminator([(cfg.ndf // d, down) for d, down in D_BLOCKS[size]], nc * pac)
    init_weights(G)
    init_weights(D)
    if d_norm == "spectral":
        D = spectral_normalize(D)
    return G, D
