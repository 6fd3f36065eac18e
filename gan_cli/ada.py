"""Adaptive discriminator augmentation's image pipeline (Karras et al. 2020, StyleGAN2-ADA), the `bgc` set:
pixel blitting (x-flip, 90-degree rotations, integer translation), general geometric transforms (isotropic
scaling, arbitrary rotation, anisotropic scaling, fractional translation) and colour transforms
(brightness, contrast, luma flip, hue rotation, saturation), at the official strengths.

Each op is applied to each image with probability p. The geometric ops are composed into one matrix per
image and applied once: the image is padded by reflection, up-sampled 2x with the sym6 wavelet's low-pass
filter, resampled bilinearly at the transformed grid, low-passed and down-sampled back, as the official
pipe does, so there are no black borders and few aliasing artefacts. The colour ops are one 4x4 matrix
per image. Everything is differentiable in the images (G's gradient flows through D's augmented view). An
image that draws no geometric op skips the resampling and one that draws no colour op the colour matrix,
so p = 0 is the identity bit for bit.

`percentile=q` replaces every random draw by the value at that quantile with every op on (the official
pipe's `debug_percentile`): tests compare the output with the official pipe's for the same q.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# Daubechies' symlet-6 low-pass decomposition filter (the official geometric filter)
SYM6 = [
    0.015404109327027373, 0.0034907120842174702, -0.11799011114819057, -0.048311742585633,
    0.4910559419267466, 0.787641141030194, 0.3379294217276218, -0.07263752278646252,
    -0.021060292512300564, 0.04472490177066578, 0.0017677118642428036, -0.007800708325034148,
]  # fmt: skip
# the official `bgc` strengths
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, HUE_MAX, SATURATION_STD = 0.2, 0.5, 1.0, 1.0


def _mat(rows: list[list], like: Tensor) -> Tensor:
    """[N, R, C] from rows whose entries are numbers or [N] tensors."""
    n = like.shape[0]
    cols = [e if isinstance(e, Tensor) else like.new_full((n,), float(e)) for row in rows for e in row]
    return torch.stack(cols, dim=-1).reshape(n, len(rows), len(rows[0]))


def translate(tx: Tensor, ty: Tensor) -> Tensor:
    return _mat([[1, 0, tx], [0, 1, ty], [0, 0, 1]], tx)


def scale(sx: Tensor, sy: Tensor) -> Tensor:
    return _mat([[sx, 0, 0], [0, sy, 0], [0, 0, 1]], sx)


def affine(sx: float, sy: float, tx: float, ty: float, device: torch.device) -> Tensor:
    """The same scaling then translation for every image: [3, 3] (broadcasts against [N, 3, 3])."""
    return torch.tensor([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]], device=device)


def rotate(theta: Tensor) -> Tensor:
    c, s = torch.cos(theta), torch.sin(theta)
    return _mat([[c, -s, 0], [s, c, 0], [0, 0, 1]], theta)


class Draw:
    """Per-image parameters: each op's formula applied to a uniform or standard normal draw where the
    image's coin (probability p) says so, else the op's identity; with `percentile`, the formula applied to
    that quantile of the draw, for every image, with every op on."""

    def __init__(self, n: int, p: Tensor, device: torch.device, percentile: float | None) -> None:
        self.n, self.p, self.device, self.q = n, p, device, percentile
        self.params: dict[str, tuple[Tensor, Tensor]] = {}  # name: (parameter, on) of the last draw

    def gate(
        self,
        name: str,
        formula: Callable[[Tensor], Tensor],
        normal: bool,
        identity: float,
        shape: tuple = (),
        p: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """(the parameter [n, *shape], whether the op is on [n]), kept in `params` under `name`: formula
        of a normal (else uniform) draw, on with probability p (default: the pipe's)."""
        if self.q is not None:
            q = torch.tensor(self.q, dtype=torch.float32, device=self.device)
            source = (torch.erfinv(q * 2 - 1) if normal else q).expand(self.n, *shape)
            on = torch.ones(self.n, dtype=torch.bool, device=self.device)
            param = formula(source)
        else:
            draw = torch.randn if normal else torch.rand
            source = draw(self.n, *shape, device=self.device)
            on = torch.rand(self.n, device=self.device) < (self.p if p is None else p)
            param = torch.where(on.view(-1, *([1] * len(shape))), formula(source), identity)
        self.params[name] = (param, on)
        return param, on


class AugmentPipe(nn.Module):
    """images [N, C, H, W] (C = 1 or 3) and p -> images augmented with probability p per op."""

    def __init__(self) -> None:
        super().__init__()
        f = torch.tensor(SYM6, dtype=torch.float32)
        self.register_buffer("filter", f / f.sum(), persistent=False)
        self.operators: dict[tuple, Tensor] = {}  # (size, up, crop, device): operator()'s matrices

    def forward(self, images: Tensor, p: Tensor | float, percentile: float | None = None) -> Tensor:
        n, c, h, w = images.shape
        p = torch.as_tensor(p, dtype=torch.float32, device=images.device)
        d = Draw(n, p, images.device, percentile)
        G_inv, geo_on = self.geometry(d, w, h)
        # only the images that drew a geometric op are resampled (and set the padding): at the small p
        # ADA mostly runs at, most skip it (the count is read on the host, as the padding is anyway)
        on = geo_on.nonzero().squeeze(1)
        dtype = images.dtype  # (under autocast the matrix products come out in bf16 or fp16)
        if len(on) == n:
            images = self.resample(images, G_inv).to(dtype)
        elif len(on):
            images = images.index_put((on,), self.resample(images[on], G_inv[on]).to(dtype))
        C, col_on = self.colour(d, c)
        return torch.where(col_on.view(-1, 1, 1, 1), self.recolour(images, C).to(dtype), images)

    # -- the geometric ops: one inverse matrix per image, output pixel -> input pixel
    def geometry(self, d: Draw, w: int, h: int) -> tuple[Tensor, Tensor]:
        G = torch.eye(3, device=d.device).expand(d.n, 3, 3)
        on = torch.zeros(d.n, dtype=torch.bool, device=d.device)
        i, o = d.gate("xflip", lambda u: torch.floor(u * 2), False, 0.0)
        G, on = G @ scale(1 - 2 * i, torch.ones_like(i)), on | o  # x-flip (its inverse is itself)
        i, o = d.gate("rotate90", lambda u: torch.floor(u * 4), False, 0.0)
        G, on = G @ rotate(math.pi / 2 * i), on | o  # 90-degree rotations: inverse of rotate(-pi/2 i)
        t, o = d.gate("xint", lambda u: (u * 2 - 1) * XINT_MAX, False, 0.0, (2,))
        G, on = G @ translate(-torch.round(t[:, 0] * w), -torch.round(t[:, 1] * h)), on | o
        s, o = d.gate("scale", lambda z: torch.exp2(z * SCALE_STD), True, 1.0)
        G, on = G @ scale(1 / s, 1 / s), on | o
        # arbitrary rotation: before and after the anisotropic scaling, each with p_rot, so that P(either) = p
        p_rot = 1 - torch.sqrt((1 - d.p).clamp(0, 1))
        theta, o = d.gate("rotate_pre", lambda u: (u * 2 - 1) * math.pi * ROTATE_MAX, False, 0.0, p=p_rot)
        G, on = G @ rotate(theta), on | o
        s, o = d.gate("aniso", lambda z: torch.exp2(z * ANISO_STD), True, 1.0)
        G, on = G @ scale(1 / s, s), on | o
        # (the official debug draw, `percentile`, leaves the post-rotation out)
        post = (lambda u: u * 0) if d.q is not None else (lambda u: (u * 2 - 1) * math.pi * ROTATE_MAX)
        theta, o = d.gate("rotate_post", post, False, 0.0, p=p_rot)
        G, on = G @ rotate(theta), on | o
        t, o = d.gate("xfrac", lambda z: z * XFRAC_STD, True, 0.0, (2,))
        G, on = G @ translate(-t[:, 0] * w, -t[:, 1] * h), on | o
        return G, on

    def resample(self, images: Tensor, G_inv: Tensor) -> Tensor:
        """images under the inverse transforms G_inv [N, 3, 3] (pixel coordinates about the centre)."""
        n, c, h, w = images.shape
        dev = images.device
        G_inv = G_inv.to(torch.float32)
        pad = len(self.filter) // 4  # 3 for sym6
        # reflect-pad just enough that the transformed image's corners (plus the filter's reach) stay inside
        cx, cy = (w - 1) / 2, (h - 1) / 2
        corners = torch.tensor([[-cx, -cy, 1], [cx, -cy, 1], [cx, cy, 1], [-cx, cy, 1]], device=dev)
        cp = G_inv @ corners.T  # [N, 3, 4]
        margin = cp[:, :2, :].permute(1, 0, 2).flatten(1)  # [2, N * 4]
        margin = torch.cat([-margin, margin]).max(dim=1).values  # [x0, y0, x1, y1]
        margin = margin + torch.tensor([pad * 2 - cx, pad * 2 - cy] * 2, device=dev)
        margin = margin.clamp(min=0).minimum(torch.tensor([w - 1, h - 1] * 2, device=dev))
        mx0, my0, mx1, my1 = (int(v) for v in margin.ceil().to(torch.int32).tolist())
        images = F.pad(images, [mx0, mx1, my0, my1], mode="reflect")
        G_inv = affine(1, 1, (mx0 - mx1) / 2, (my0 - my1) / 2, dev) @ G_inv
        # up-sample 2x, resample, low-pass and down-sample 2x (the transform in the 2x grid's pixels)
        images = self.upsample(images)
        G_inv = affine(2, 2, 0, 0, dev) @ G_inv @ affine(0.5, 0.5, 0, 0, dev)
        G_inv = affine(1, 1, -0.5, -0.5, dev) @ G_inv @ affine(1, 1, 0.5, 0.5, dev)
        out_h, out_w = (h + pad * 2) * 2, (w + pad * 2) * 2
        to_unit = affine(2 / images.shape[3], 2 / images.shape[2], 0, 0, dev)
        from_unit = affine(out_w / 2, out_h / 2, 0, 0, dev)
        theta = (to_unit @ G_inv @ from_unit)[:, :2, :]
        grid = F.affine_grid(theta.to(images.dtype), [n, c, out_h, out_w], align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self.downsample(images, crop=pad * 2)

    def operator(self, n: int, up: bool, crop: int = 0) -> Tensor:
        """The 1-D linear map [n, m] (input sample -> output sample) of 2x up-sampling (zeros between the
        samples, padding, the filter with gain 2: upfirdn2d.upsample2d per axis) or of filtering and 2x
        down-sampling (padding -crop, the filter unflipped, every second sample: downsample2d with
        flip_filter). Built by applying it to the identity; the images then take two matrix products,
        which a CPU runs 20x faster than a depthwise convolution with these kernels."""
        key = (n, up, crop, self.filter.device)
        if key in self.operators:  # a few image sizes recur all run long
            return self.operators[key]
        taps = len(self.filter)
        eye = torch.eye(n, device=self.filter.device).unsqueeze(1)  # [n, 1, n]: one signal per sample
        if up:
            z = F.pad(eye.unsqueeze(-1), [0, 1]).reshape(n, 1, 2 * n)
            z = F.pad(z, [(taps + 1) // 2, (taps - 2) // 2])
            op = F.conv1d(z, (2 * self.filter).flip(0).view(1, 1, -1)).squeeze(1)  # a true convolution
        else:
            lo, hi = (taps - 1) // 2 - crop, (taps - 2) // 2 - crop
            z = F.pad(eye, [max(lo, 0), max(hi, 0)])
            z = z[..., max(-lo, 0) : z.shape[-1] - max(-hi, 0)]
            op = F.conv1d(z, self.filter.view(1, 1, -1))[..., ::2].squeeze(1)
        self.operators[key] = op
        return op

    def apply(self, x: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """rows^T x cols on every image and channel: x [N, C, H, W], rows [H, H'], cols [W, W']."""
        return rows.T.to(x.dtype) @ x @ cols.to(x.dtype)

    def upsample(self, x: Tensor) -> Tensor:
        """2x: zeros between the samples, then the filter with gain 4 (as upfirdn2d.upsample2d)."""
        return self.apply(x, self.operator(x.shape[2], up=True), self.operator(x.shape[3], up=True))

    def downsample(self, x: Tensor, crop: int) -> Tensor:
        """The filter, then every second sample (upfirdn2d.downsample2d, flip_filter, padding -crop)."""
        h, w = x.shape[2:]
        return self.apply(x, self.operator(h, up=False, crop=crop), self.operator(w, up=False, crop=crop))

    # -- the colour ops: one 4x4 matrix per image acting on (r, g, b, 1)
    def colour(self, d: Draw, channels: int) -> tuple[Tensor, Tensor]:
        C = torch.eye(4, device=d.device).expand(d.n, 4, 4)
        on = torch.zeros(d.n, dtype=torch.bool, device=d.device)
        b, o = d.gate("brightness", lambda z: z * BRIGHTNESS_STD, True, 0.0)
        C, on = self.shift(b) @ C, on | o
        k, o = d.gate("contrast", lambda z: torch.exp2(z * CONTRAST_STD), True, 1.0)
        C, on = torch.diag_embed(torch.stack([k, k, k, torch.ones_like(k)], dim=1)) @ C, on | o
        v = torch.tensor([1.0, 1.0, 1.0, 0.0], device=d.device) / math.sqrt(3)  # the luma axis
        vv = torch.outer(v, v)
        i, o = d.gate("lumaflip", lambda u: torch.floor(u * 2), False, 0.0)
        C, on = (torch.eye(4, device=d.device) - 2 * vv * i.view(-1, 1, 1)) @ C, on | o  # Householder flip
        if channels > 1:
            theta, o = d.gate("hue", lambda u: (u * 2 - 1) * math.pi * HUE_MAX, False, 0.0)
            C, on = self.hue(theta, v) @ C, on | o
            s, o = d.gate("saturation", lambda z: torch.exp2(z * SATURATION_STD), True, 1.0)
            C, on = (vv + (torch.eye(4, device=d.device) - vv) * s.view(-1, 1, 1)) @ C, on | o
        return C, on

    @staticmethod
    def shift(b: Tensor) -> Tensor:
        C = torch.eye(4, device=b.device).repeat(len(b), 1, 1)
        C[:, :3, 3] = b.view(-1, 1)
        return C

    @staticmethod
    def hue(theta: Tensor, v: Tensor) -> Tensor:
        """Rotation by theta about the unit axis v (Rodrigues), homogeneous [N, 4, 4]."""
        x, y, z = v[0], v[1], v[2]
        s, c = torch.sin(theta), torch.cos(theta)
        cc = 1 - c
        rows = [
            [x * x * cc + c, x * y * cc - z * s, x * z * cc + y * s, 0],
            [y * x * cc + z * s, y * y * cc + c, y * z * cc - x * s, 0],
            [z * x * cc - y * s, z * y * cc + x * s, z * z * cc + c, 0],
            [0, 0, 0, 1],
        ]
        return _mat(rows, theta)

    @staticmethod
    def recolour(images: Tensor, C: Tensor) -> Tensor:
        n, c, h, w = images.shape
        flat = images.reshape(n, c, h * w)
        C = C.to(images.dtype)
        if c == 3:
            flat = C[:, :3, :3] @ flat + C[:, :3, 3:]
        else:  # grey: the mean of the three colour rows
            g = C[:, :3, :].mean(dim=1, keepdim=True)
            flat = flat * g[:, :, :3].sum(dim=2, keepdim=True) + g[:, :, 3:]
        return flat.reshape(n, c, h, w)
