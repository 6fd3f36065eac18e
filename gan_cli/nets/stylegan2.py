"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN"), model=stylegan2,
laid out as the official networks of NVlabs/stylegan2-ada-pytorch (tests/fixtures/stylegan2 checks them
number for number, with parameters under the official names).

G: z (normalised to unit second moment; with classes, the one-hot label embedded and normalised beside it)
-> the mapping network (model.map_layers fully connected layers, learning-rate multiplier 0.01) -> w,
broadcast to one w per layer (ws) -> the synthesis network: a learned 4x4 constant, then per resolution two
modulated 3x3 convolutions with weight demodulation (the first up-sampling), per-pixel noise with a learned
strength, bias and leaky ReLU (gain sqrt 2), and a toRGB layer whose output is added to the up-sampled image
so far (the skip architecture). D: per resolution two 3x3 convolutions (the second down-sampling) with a
1x1 down-sampling shortcut (`resnet`) or without (`orig`), then the epilogue: minibatch standard deviation,
a 3x3 convolution, two fully connected layers, and with classes a projection on the label's mapping.
Resampling is by the [1, 3, 3, 1] FIR filter; every layer has an equalised learning rate (weights drawn
N(0, 1), scaled at run time by 1 / sqrt(fan-in)). Widths: min(model.channel_base // res, model.channel_max).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.errors import ConfigError
from gan_cli.nets.base import MODELS, DOut

SQRT2 = math.sqrt(2)
CLAMP = 256.0  # the official training config clamps every convolution's output to +-256 (train.py)
NOISE_MODES = ("random", "const", "none")


def fir_filter(taps: tuple[float, ...] = (1, 3, 3, 1)) -> Tensor:
    """The 2-D low-pass filter [k, k]: the outer product of `taps`, normalised to sum 1."""
    f = torch.tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def upfirdn(x: Tensor, f: Tensor, up: int = 1, down: int = 1, pad: tuple[int, ...] = (0, 0), gain=1.0):
    """Up-sample x by zero insertion, pad ((x0, x1, y0, y1), or (before, after) on both axes; negative
    crops), convolve each channel with f (times gain), keep every `down`-th pixel."""
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad if len(pad) == 4 else (pad[0], pad[1], pad[0], pad[1])
    if up > 1:
        x = F.pad(x.reshape(n, c, h, 1, w, 1), [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    k = (f * gain).flip([0, 1]).to(x.dtype)
    x = F.conv2d(x, k[None, None].expand(c, 1, *k.shape), groups=c)
    return x[:, :, ::down, ::down] if down > 1 else x


def upsample(x: Tensor, f: Tensor) -> Tensor:
    """x at twice the resolution: zero insertion and the filter (gain 4), the shape doubled exactly."""
    k = f.shape[0]
    return upfirdn(x, f, up=2, pad=((k + 1) // 2, (k - 2) // 2), gain=4.0)


def downsample(x: Tensor, f: Tensor) -> Tensor:
    """x at half the resolution: the filter, then every other pixel."""
    k = f.shape[0]
    return upfirdn(x, f, down=2, pad=((k - 1) // 2, (k - 2) // 2))


def conv_resample(x: Tensor, w: Tensor, f: Tensor, up: int = 1, down: int = 1) -> Tensor:
    """A 'same' convolution of x with w [out, in, k, k] (correlation, as F.conv2d), up-sampling (a stride-2
    transposed convolution, then the filter) or down-sampling (the filter, then a stride-2 convolution)."""
    k, fk = w.shape[-1], f.shape[0]
    p = k // 2
    if up > 1:  # (only G's 3x3 convolutions up-sample)
        x = F.conv_transpose2d(x, w.transpose(0, 1), stride=2)
        lo = p + (fk + 1) // 2 - (k - 1)
        hi = p + (fk - 2) // 2 - (k - 2)
        return upfirdn(x, f, pad=(lo, hi, lo, hi), gain=4.0)
    if down > 1:
        lo, hi = p + (fk - 1) // 2, p + (fk - 2) // 2
        if k == 1:  # filter and subsample, then the 1x1 convolution
            return F.conv2d(upfirdn(x, f, down=2, pad=(lo, hi, lo, hi)), w)
        return F.conv2d(upfirdn(x, f, pad=(lo, hi, lo, hi)), w, stride=2)
    return F.conv2d(x, w, padding=p)


def bias_act(x: Tensor, b: Tensor | None, act: str, gain: float = 1.0, clamp: float | None = None) -> Tensor:
    """x + b (per channel), then leaky ReLU (slope 0.2) times sqrt(2) * gain ('lrelu') or nothing
    ('linear', times gain), clamped to +-clamp."""
    if b is not None:
        x = x + b.to(x.dtype).reshape(1, -1, *([1] * (x.ndim - 2)))
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2)
        gain = gain * SQRT2
    if gain != 1:
        x = x * gain
    return x.clamp(-clamp, clamp) if clamp is not None else x


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


class FullyConnected(nn.Module):
    """A linear layer with an equalised learning rate and a learning-rate multiplier: the weight is stored
    as N(0, 1) / lr_mul and used times lr_mul / sqrt(in), the bias times lr_mul."""

    def __init__(self, cin: int, cout: int, act: str = "linear", lr_mul: float = 1.0, bias_init: float = 0):
        super().__init__()
        self.act, self.lr_mul = act, lr_mul
        self.weight = nn.Parameter(torch.randn(cout, cin) / lr_mul)
        self.bias = nn.Parameter(torch.full([cout], float(bias_init)))
        self.weight_gain = lr_mul / math.sqrt(cin)

    def forward(self, x: Tensor) -> Tensor:
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.lr_mul
        if self.act == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, self.act)


class Conv(nn.Module):
    """D's convolutions (and the epilogue's): equalised learning rate, optional down-sampling, bias and
    activation, the output clamped (skip connections: no bias, no clamp)."""

    def __init__(self, cin, cout, k, act="linear", down=1, bias=True, clamp: float | None = CLAMP) -> None:
        super().__init__()
        self.act, self.down, self.clamp = act, down, clamp
        self.register_buffer("resample_filter", fir_filter())
        self.weight = nn.Parameter(torch.randn(cout, cin, k, k))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.weight_gain = 1 / math.sqrt(cin * k * k)

    def forward(self, x: Tensor, gain: float = 1.0) -> Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv_resample(x, w, self.resample_filter, down=self.down)
        return bias_act(x, self.bias, self.act, gain, self.clamp * gain if self.clamp is not None else None)


class Mapping(nn.Module):
    """z (and the one-hot label c) -> w [N, w_dim], or ws [N, num_ws, w_dim] when num_ws is given. Keeps a
    running average of w (w_avg, decay 0.995) while training, for truncation."""

    def __init__(
        self, z_dim: int, c_dim: int, w_dim: int, num_ws: int | None, layers: int, track_avg: bool = True
    ) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.layers = z_dim, c_dim, w_dim, num_ws, layers
        embed = w_dim if c_dim else 0
        if c_dim:
            self.embed = FullyConnected(c_dim, embed)
        widths = [z_dim + embed] + [w_dim] * layers
        for i in range(layers):
            setattr(self, f"fc{i}", FullyConnected(widths[i], widths[i + 1], "lrelu", lr_mul=0.01))
        self.track_avg = track_avg
        if track_avg:
            self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(
        self, z: Tensor | None, c: Tensor | None, psi: float = 1.0, update_avg: bool = True
    ) -> Tensor:
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z.float()))
        if self.c_dim:
            parts.append(normalize_2nd_moment(self.embed(c.float())))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.layers):
            x = getattr(self, f"fc{i}")(x)
        if self.track_avg and self.training and update_avg:
            with torch.no_grad():
                self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, 0.995))
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1:
            x = self.w_avg.lerp(x, psi)
        return x


class SynthesisLayer(nn.Module):
    """A modulated 3x3 convolution with weight demodulation (up-sampling or not), noise, bias, leaky ReLU."""

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, up: int = 1) -> None:
        super().__init__()
        self.resolution, self.up = resolution, up
        self.register_buffer("resample_filter", fir_filter())
        self.affine = FullyConnected(w_dim, cin, bias_init=1)
        self.weight = nn.Parameter(torch.randn(cout, cin, 3, 3))
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(cout))

    def forward(self, x: Tensor, w: Tensor, noise_mode: str = "random", gain: float = 1.0) -> Tensor:
        styles = self.affine(w)  # [N, cin]
        weight = self.weight.to(x.dtype)
        # demodulation: each output channel of the modulated weight scaled to unit norm, applied to the
        # convolution's output (the same numbers as modulating the weights per sample, one convolution)
        d = (weight.unsqueeze(0) * styles.reshape(len(x), 1, -1, 1, 1).to(x.dtype)).square().sum((2, 3, 4))
        x = x * styles.to(x.dtype).reshape(len(x), -1, 1, 1)
        x = conv_resample(x, weight, self.resample_filter, up=self.up)
        x = x * (d + 1e-8).rsqrt().reshape(len(x), -1, 1, 1)
        if noise_mode == "random":
            x = (
                x
                + torch.randn(len(x), 1, self.resolution, self.resolution, device=x.device)
                * self.noise_strength
            )
        elif noise_mode == "const":
            x = x + self.noise_const * self.noise_strength
        return bias_act(x, self.bias, "lrelu", gain, CLAMP * gain)


class ToRGB(nn.Module):
    """A modulated 1x1 convolution to the image's channels (no demodulation), bias, clamp."""

    def __init__(self, cin: int, cout: int, w_dim: int) -> None:
        super().__init__()
        self.affine = FullyConnected(w_dim, cin, bias_init=1)
        self.weight = nn.Parameter(torch.randn(cout, cin, 1, 1))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.weight_gain = 1 / math.sqrt(cin)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles.to(x.dtype).reshape(len(x), -1, 1, 1), self.weight.to(x.dtype))
        return bias_act(x, self.bias, "linear", clamp=CLAMP)


class SynthesisBlock(nn.Module):
    """One resolution of the skip generator: (the constant, or conv0 up-sampling), conv1, toRGB added to
    the up-sampled image so far."""

    def __init__(self, cin: int, cout: int, w_dim: int, resolution: int, channels: int) -> None:
        super().__init__()
        self.cin = cin
        self.register_buffer("resample_filter", fir_filter())
        if cin == 0:
            self.const = nn.Parameter(torch.randn(cout, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(cin, cout, w_dim, resolution, up=2)
        self.conv1 = SynthesisLayer(cout, cout, w_dim, resolution)
        self.torgb = ToRGB(cout, channels, w_dim)
        self.num_conv = 1 if cin == 0 else 2

    def forward(self, x: Tensor | None, img: Tensor | None, ws: Tensor, noise_mode: str):
        w = ws.unbind(dim=1)
        if self.cin == 0:
            x = self.const.to(ws.dtype).unsqueeze(0).repeat(len(ws), 1, 1, 1)
            x = self.conv1(x, w[0], noise_mode)
        else:
            x = self.conv1(self.conv0(x, w[0], noise_mode), w[1], noise_mode)
        y = self.torgb(x, w[self.num_conv]).float()
        img = y if img is None else upsample(img, self.resample_filter) + y
        return x, img


class Synthesis(nn.Module):
    def __init__(self, w_dim: int, resolution: int, channels: int, base: int, cmax: int) -> None:
        super().__init__()
        self.resolutions = [2**i for i in range(2, int(math.log2(resolution)) + 1)]
        width = {r: min(base // r, cmax) for r in self.resolutions}
        self.num_ws = 0
        for r in self.resolutions:
            block = SynthesisBlock(width[r // 2] if r > 4 else 0, width[r], w_dim, r, channels)
            setattr(self, f"b{r}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's toRGB

    def forward(self, ws: Tensor, noise_mode: str = "random") -> Tensor:
        x = img = None
        i = 0
        for r in self.resolutions:
            block = getattr(self, f"b{r}")
            x, img = block(x, img, ws.narrow(1, i, block.num_conv + 1), noise_mode)
            i += block.num_conv
        return img


class StyleGAN2Generator(nn.Module):
    """G(z) with z [N, nz]; with classes > 0, z's first `classes` coordinates are the one-hot label (the
    latent_classes / conditional wrapper puts it there) and the rest is the latent. In training with
    style_mixing > 0, that share of the batches (as officially, the whole batch at once) takes its ws from a
    second latent from a random layer on. `truncation` (psi) and `noise_mode` apply when sampling."""

    def __init__(self, nz: int, classes: int, cfg, resolution: int, channels: int) -> None:
        super().__init__()
        self.classes, self.z_dim = classes, nz - classes
        self.synthesis = Synthesis(int(cfg.w_dim), resolution, channels, cfg.channel_base, cfg.channel_max)
        self.num_ws = self.synthesis.num_ws
        self.mapping = Mapping(self.z_dim, classes, int(cfg.w_dim), self.num_ws, int(cfg.map_layers))
        self.style_mixing = float(cfg.get("style_mixing", 0.0))
        self.truncation, self.noise_mode = 1.0, "random"

    def split(self, z: Tensor) -> tuple[Tensor, Tensor | None]:
        return (z[:, self.classes :], z[:, : self.classes]) if self.classes else (z, None)

    def map(self, z: Tensor, psi: float = 1.0) -> Tensor:
        """ws [N, num_ws, w_dim], style-mixed in training."""
        lat, c = self.split(z)
        ws = self.mapping(lat, c, psi)
        if self.training and self.style_mixing > 0:
            cutoff = torch.randint(1, self.num_ws, (), device=ws.device)
            cutoff = torch.where(torch.rand((), device=ws.device) < self.style_mixing, cutoff, self.num_ws)
            other = self.mapping(torch.randn_like(lat), c, update_avg=False)
            later = (torch.arange(self.num_ws, device=ws.device) >= cutoff).reshape(1, -1, 1)
            ws = torch.where(later, other, ws)
        return ws

    def mixed(self, z: Tensor, z2: Tensor, cutoff: int, psi: float = 1.0) -> Tensor:
        """ws of z for the layers before `cutoff`, of z2 from it on (style mixing at a fixed crossover)."""
        ws = self.mapping(*self.split(z), psi, update_avg=False)
        ws2 = self.mapping(*self.split(z2), psi, update_avg=False)
        return torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)

    def forward(self, z: Tensor) -> Tensor:
        psi = 1.0 if self.training else self.truncation
        return self.synthesis(self.map(z, psi), "random" if self.training else self.noise_mode)


class DBlock(nn.Module):
    """One resolution of D: (fromRGB for the first), conv0, conv1 down-sampling, and for `resnet` a 1x1
    down-sampling shortcut, the sum scaled by sqrt(1/2)."""

    def __init__(self, cin: int, tmp: int, cout: int, channels: int, architecture: str) -> None:
        super().__init__()
        self.cin, self.resnet = cin, architecture == "resnet"
        if cin == 0:
            self.fromrgb = Conv(channels, tmp, 1, "lrelu")
        self.conv0 = Conv(tmp, tmp, 3, "lrelu")
        self.conv1 = Conv(tmp, cout, 3, "lrelu", down=2)
        if self.resnet:
            self.skip = Conv(tmp, cout, 1, down=2, bias=False, clamp=None)

    def forward(self, x: Tensor | None, img: Tensor) -> Tensor:
        if self.cin == 0:
            x = self.fromrgb(img)
        if self.resnet:
            y = self.skip(x, gain=math.sqrt(0.5))
            return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return self.conv1(self.conv0(x))


class MinibatchStd(nn.Module):
    """Appends the standard deviation over groups of `group` samples (averaged over channels and pixels) as
    one more feature map."""

    def __init__(self, group: int) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = min(self.group, n) if self.group else n
        y = x.reshape(g, -1, 1, c, h, w)
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=(2, 3, 4)).reshape(-1, 1, 1, 1)
        return torch.cat([x, y.repeat(g, 1, h, w)], dim=1)


class Epilogue(nn.Module):
    def __init__(self, cin: int, cmap_dim: int, group: int) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStd(group)
        self.conv = Conv(cin + 1, cin, 3, "lrelu")
        self.fc = FullyConnected(cin * 16, cin, "lrelu")
        self.out = FullyConnected(cin, cmap_dim or 1)

    def forward(self, x: Tensor, cmap: Tensor | None) -> Tensor:
        x = self.out(self.fc(self.conv(self.mbstd(x.float())).flatten(1)))
        if cmap is not None:
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x


class StyleGAN2Discriminator(nn.Module):
    """D(x, y) -> DOut; y the class labels [N] when D is conditional (it projects on the label's mapping,
    so the conditional trick puts no projection of its own around it)."""

    takes_labels = True

    def __init__(self, cfg, resolution: int, channels: int, classes: int) -> None:
        super().__init__()
        self.resolutions = [2**i for i in range(int(math.log2(resolution)), 2, -1)]
        width = {r: min(cfg.channel_base // r, cfg.channel_max) for r in [*self.resolutions, 4]}
        self.classes = classes
        for r in self.resolutions:
            cin = width[r] if r < resolution else 0
            setattr(self, f"b{r}", DBlock(cin, width[r], width[r // 2], channels, cfg.d_architecture))
        cmap_dim = width[4] if classes else 0
        if classes:  # the label's mapping: 8 layers as officially (the D's mapping takes no map_layers)
            self.mapping = Mapping(0, classes, cmap_dim, None, 8, track_avg=False)
        self.b4 = Epilogue(width[4], cmap_dim, int(cfg.mbstd_group))

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        img, h = x, None
        for r in self.resolutions:
            h = getattr(self, f"b{r}")(h, img)
        cmap = None
        if self.classes:
            if y is None:
                raise ValueError("a conditional D judges each sample with its label: call D(x, y)")
            cmap = self.mapping(None, F.one_hot(y, self.classes).float())
        return DOut(self.b4(h, cmap).squeeze(1))


def _size_ok(size: int) -> bool:
    return 32 <= size <= 1024 and size & (size - 1) == 0


@MODELS.register("stylegan2")
def stylegan2(cfg, shape: tuple[int, ...], pac: int = 1) -> tuple[nn.Module, nn.Module]:
    if len(shape) != 3 or shape[1] != shape[2] or not _size_ok(shape[1]):
        what = f"images of {shape[1]}x{shape[2]} pixels" if len(shape) == 3 else f"points {list(shape)}"
        raise ConfigError(
            f"model=stylegan2 builds networks for square images of 32 to 1024 pixels, a power of two, not "
            f"{what}: set dataset.image_size to 32, 64, 128, ... (or use model=mlp for points)."
        )
    if pac != 1:
        raise ConfigError(
            "model=stylegan2 with model.pac>1: StyleGAN2's D has its own minibatch standard deviation "
            "(model.mbstd_group) to see a batch's diversity; leave model.pac=1."
        )
    channels = shape[0]
    classes = int(cfg.get("latent_classes", 0))
    G = StyleGAN2Generator(int(cfg.nz), classes, cfg, shape[1], channels)
    d_classes = classes if cfg.get("conditional", False) else 0
    D = StyleGAN2Discriminator(cfg, shape[1], channels, d_classes)
    return G, D


def set_sampling(G: nn.Module, truncation: float = 1.0, noise: str | None = None) -> None:
    """Sample with truncation psi (toward the average w; 1 = none) and a noise mode (random | const |
    none) from a StyleGAN2 G, wherever it sits inside the tricks' wrappers; ConfigError for other G."""
    nets = [m for m in G.modules() if isinstance(m, StyleGAN2Generator)]
    if not nets:
        if truncation != 1 or noise not in (None, "random"):
            key = "truncation" if truncation != 1 else "noise"
            raise ConfigError(
                f"{key}={truncation if key == 'truncation' else noise}: only model=stylegan2 has an "
                "intermediate latent w to truncate and noise inputs; this run's G has neither (leave "
                f"{key} unset)."
            )
        return
    if noise is not None and noise not in NOISE_MODES:
        raise ConfigError(f"noise={noise}: use one of {', '.join(NOISE_MODES)}.")
    for net in nets:
        net.truncation = float(truncation)
        if noise is not None:
            net.noise_mode = noise
