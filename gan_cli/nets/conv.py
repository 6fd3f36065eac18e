"""Conv2d and ConvTranspose2d whose weight gradient is one matrix multiply where that is faster.

On CPUs with bf16 matmul units, oneDNN's bf16 convolution weight-gradient kernels run far below the
matmul peak when the output is small: for the 64x64 DCGAN's 256 -> 512 channel layer (8x8 -> 4x4, batch
64) the weight gradient takes 20 ms, its forward pass 5.7 ms. The same gradient is one GEMM,
dW = rows(dY)^T @ patches(X), with the patches a strided view of the channels-last input copied once:
4 ms. These layers are drop-in replacements for torch's (same parameters, same state_dict, same forward
kernels); only the weight gradient of bf16 CPU layers with small outputs takes the GEMM path, so fp32
training and CUDA are untouched and stay bit-for-bit what torch computes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

# The GEMM weight gradient is used when an output (of the convolution, or the input of the transposed
# one) has at most this many positions per image. Measured on the development CPU (AVX-512 BF16, 2 cores,
# batch 64, bf16, channels-last), GEMM vs oneDNN: 4x4 outputs 4.2 vs 20 ms, 8x8 5.2 vs 7.0 ms, 16x16
# 15 vs 4.4 ms (the patch copy grows with the output). `make bench` shows the effect on whole steps.
MAX_GEMM_POSITIONS = 64


def _patches(x: Tensor, k: int, stride: int, padding: int) -> tuple[Tensor, int, int]:
    """x [N, C, H, W] -> [N*OH*OW, k*k*C]: each output position's receptive field, ordered (kh, kw, c)."""
    xn = x.permute(0, 2, 3, 1)  # NHWC, a free view of a channels-last tensor
    if padding:
        xn = F.pad(xn, (0, 0, padding, padding, padding, padding))
    n, hp, wp, c = xn.shape
    oh, ow = (hp - k) // stride + 1, (wp - k) // stride + 1
    sn, sh, sw, sc = xn.stride()
    view = xn.as_strided((n, oh, ow, k, k, c), (sn, sh * stride, sw * stride, sh, sw, sc))
    return view.reshape(n * oh * ow, k * k * c), oh, ow


def _rows(y: Tensor) -> Tensor:
    """[N, C, H, W] -> [N*H*W, C]."""
    return y.permute(0, 2, 3, 1).reshape(-1, y.shape[1])


def conv_weight_grad(grad_out: Tensor, x: Tensor, k: int, stride: int, padding: int) -> Tensor:
    """dL/dW of y = conv2d(x, W, stride, padding) for a square k x k kernel: [C_out, C_in, k, k]."""
    patches, _, _ = _patches(x, k, stride, padding)
    c_out = grad_out.shape[1]
    return (_rows(grad_out).t() @ patches).view(c_out, k, k, -1).permute(0, 3, 1, 2)


def conv_transpose_weight_grad(grad_out: Tensor, x: Tensor, k: int, stride: int, padding: int) -> Tensor:
    """dL/dW of y = conv_transpose2d(x, W, stride, padding): [C_in, C_out, k, k].

    A transposed convolution is the input gradient of a convolution from y's shape to x's, so its weight
    gradient pairs each input position of x with the k x k window of dL/dy that it wrote to."""
    patches, _, _ = _patches(grad_out, k, stride, padding)  # one window per position of x
    c_in = x.shape[1]
    return (_rows(x).t() @ patches).view(c_in, k, k, -1).permute(0, 3, 1, 2)


class _GemmWeightGrad(torch.autograd.Function):
    """Forward and input gradient by torch's convolutions; weight gradient by one GEMM.

    The backward is made of differentiable torch operations, so gradient penalties (double backward)
    work through it."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, stride: int, padding: int, transposed: bool) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.conf = stride, padding, transposed
        if transposed:
            return F.conv_transpose2d(x, w, None, stride, padding)
        return F.conv2d(x, w, None, stride, padding)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        x, w = ctx.saved_tensors
        stride, padding, transposed = ctx.conf
        k = w.shape[-1]
        grad_x = grad_w = None
        if ctx.needs_input_grad[0]:
            if transposed:
                grad_x = F.conv2d(grad_out, w, None, stride, padding)
            else:
                extra = x.shape[-1] - ((grad_out.shape[-1] - 1) * stride - 2 * padding + k)
                grad_x = F.conv_transpose2d(grad_out, w, None, stride, padding, output_padding=extra)
        if ctx.needs_input_grad[1]:
            fn = conv_transpose_weight_grad if transposed else conv_weight_grad
            grad_w = fn(grad_out, x, k, stride, padding)
        return grad_x, grad_w, None, None, None


def _gemm_dtype(module: nn.Module, x: Tensor) -> torch.dtype | None:
    """The compute dtype when this call should take the GEMM weight-gradient path, else None."""
    if x.device.type != "cpu" or not (torch.is_grad_enabled() and module.weight.requires_grad):
        return None
    dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
    return dtype if dtype == torch.bfloat16 else None


def _gemm_capable(module: nn.Module) -> bool:
    """The geometry the GEMM path handles: square kernel, stride and padding; no dilation, groups, bias or
    output padding; zero padding."""
    k, s, p, d = module.kernel_size, module.stride, module.padding, module.dilation
    return (
        k[0] == k[1]
        and s[0] == s[1]
        and not isinstance(p, str)
        and p[0] == p[1]
        and d == (1, 1)
        and module.groups == 1
        and module.bias is None
        and module.padding_mode == "zeros"
        and getattr(module, "output_padding", (0, 0)) == (0, 0)
    )


class Conv2d(nn.Conv2d):
    """torch's Conv2d; bf16 CPU layers with small outputs get their weight gradient from one GEMM."""

    def forward(self, x: Tensor) -> Tensor:
        dtype = _gemm_dtype(self, x)
        if dtype is None or not _gemm_capable(self):
            return super().forward(x)
        k, s, p = self.kernel_size[0], self.stride[0], self.padding[0]
        out = [(size + 2 * p - k) // s + 1 for size in x.shape[2:]]
        if out[0] * out[1] > MAX_GEMM_POSITIONS:
            return super().forward(x)
        return _GemmWeightGrad.apply(x.to(dtype), self.weight.to(dtype), s, p, False)


class ConvTranspose2d(nn.ConvTranspose2d):
    """torch's ConvTranspose2d; bf16 CPU layers with small inputs get their weight gradient from one GEMM."""

    def forward(self, x: Tensor, output_size: list[int] | None = None) -> Tensor:
        dtype = _gemm_dtype(self, x)
        small = x.shape[2] * x.shape[3] <= MAX_GEMM_POSITIONS
        if dtype is None or output_size is not None or not small or not _gemm_capable(self):
            return super().forward(x, output_size)
        return _GemmWeightGrad.apply(
            x.to(dtype), self.weight.to(dtype), self.stride[0], self.padding[0], True
        )
