"""nets/conv.py: the GEMM weight gradient equals autograd's, double backward included."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gan_cli.nets.conv import (
    MAX_GEMM_POSITIONS,
    Conv2d,
    ConvTranspose2d,
    _GemmWeightGrad,
    conv_transpose_weight_grad,
    conv_weight_grad,
)

# (in channels, out channels, kernel, stride, padding, input size)
GEOMETRIES = [
    (3, 5, 4, 2, 1, 8),
    (4, 6, 3, 1, 1, 5),
    (2, 3, 4, 1, 0, 4),
    (5, 2, 5, 2, 2, 7),
    (3, 4, 4, 2, 1, 6),
]


def _pair(cls, base, args):
    torch.manual_seed(0)
    ours, theirs = cls(*args, bias=False), base(*args, bias=False)
    theirs.load_state_dict(ours.state_dict())
    return ours.to(memory_format=torch.channels_last), theirs.to(memory_format=torch.channels_last)


@pytest.mark.parametrize("ci,co,k,s,p,size", GEOMETRIES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_weight_gradients_equal_autograd_in_fp64(ci, co, k, s, p, size, channels_last):
    g = torch.Generator().manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(3, ci, size, size, generator=g, dtype=torch.float64).contiguous(memory_format=fmt)
    w = torch.randn(co, ci, k, k, generator=g, dtype=torch.float64, requires_grad=True)
    y = nn.functional.conv2d(x, w, None, s, p)
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    (expected,) = torch.autograd.grad(y, w, dy)
    torch.testing.assert_close(conv_weight_grad(dy, x, k, s, p), expected, rtol=1e-10, atol=1e-10)

    wt = torch.randn(ci, co, k, k, generator=g, dtype=torch.float64, requires_grad=True)
    yt = nn.functional.conv_transpose2d(x, wt, None, s, p)
    dyt = torch.randn(yt.shape, generator=g, dtype=torch.float64).contiguous(memory_format=fmt)
    (expected_t,) = torch.autograd.grad(yt, wt, dyt)
    torch.testing.assert_close(
        conv_transpose_weight_grad(dyt, x, k, s, p), expected_t, rtol=1e-10, atol=1e-10
    )


@pytest.mark.parametrize("transposed", [False, True])
def test_function_passes_gradcheck_and_double_backward(transposed):
    """Gradient penalties differentiate through the backward: both orders must be right."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 5, 5, generator=g, dtype=torch.float64, requires_grad=True)
    shape = (3, 2, 4, 4) if transposed else (2, 3, 4, 4)
    w = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    fn = lambda x, w: _GemmWeightGrad.apply(x, w, 2, 1, transposed)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x, w))
    assert torch.autograd.gradgradcheck(fn, (x, w))


@pytest.mark.parametrize(
    "cls,base,args,size",
    [
        (Conv2d, nn.Conv2d, (32, 64, 4, 2, 1), 8),  # a 4x4 output: the GEMM path
        (ConvTranspose2d, nn.ConvTranspose2d, (64, 32, 4, 2, 1), 4),  # a 4x4 input: the GEMM path
        (ConvTranspose2d, nn.ConvTranspose2d, (16, 64, 4, 1, 0), 1),  # DCGAN's first layer of G
    ],
)
def test_bf16_layers_take_the_gemm_path_and_match_torch(cls, base, args, size):
    ours, theirs = _pair(cls, base, args)
    x = torch.randn(16, args[0], size, size).contiguous(memory_format=torch.channels_last)
    grads = []
    for m in (ours, theirs):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = m(xi)
        assert y.dtype == torch.bfloat16
        if m is ours:
            assert type(y.grad_fn).__name__ == "_GemmWeightGradBackward"
        (y.float() ** 2).sum().backward()
        grads.append((y.detach().float(), xi.grad, m.weight.grad))
    for a, b in zip(grads[0], grads[1], strict=True):
        assert a.dtype == b.dtype
        torch.testing.assert_close(a, b, rtol=2e-2, atol=1e-3)


def test_fp32_and_large_outputs_are_torch_bit_for_bit():
    ours, theirs = _pair(Conv2d, nn.Conv2d, (8, 16, 4, 2, 1))
    for size, dtype in ((8, torch.float32), (4 * int(MAX_GEMM_POSITIONS**0.5) + 4, torch.bfloat16)):
        x = torch.randn(4, 8, size, size)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            y1, y2 = ours(x), theirs(x)
        assert type(y1.grad_fn).__name__ == type(y2.grad_fn).__name__
        y1.float().sum().backward()
        y2.float().sum().backward()
        assert torch.equal(y1, y2) and torch.equal(ours.weight.grad, theirs.weight.grad)
        ours.zero_grad()
        theirs.zero_grad()


def test_r1_penalty_through_a_bf16_dcgan_discriminator():
    """Double backward through the GEMM path: the penalty's gradient matches torch's layers' within bf16."""
    from gan_cli.nets.dcgan import DCGANDiscriminator

    torch.manual_seed(0)
    ours = DCGANDiscriminator(8, 3, 3, "none").to(memory_format=torch.channels_last)
    plain = DCGANDiscriminator(8, 3, 3, "none")
    for name, m in list(plain.main.named_children()):
        if isinstance(m, nn.Conv2d):
            swap = nn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, bias=False)
            plain.main[int(name)] = swap
    plain.load_state_dict(ours.state_dict())
    plain = plain.to(memory_format=torch.channels_last)
    x = torch.randn(8, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    grads = []
    for D in (ours, plain):
        xi = x.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = D(xi).logits.float().sum()
        (gx,) = torch.autograd.grad(out, xi, create_graph=True)
        gx.pow(2).sum().backward()
        grads.append([p.grad.clone() for p in D.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, rtol=5e-2, atol=1e-4)
