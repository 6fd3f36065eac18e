"""precision.py: autocast for the forward passes, gradient scaling for fp16 (skipping overflowed steps)."""

from __future__ import annotations

import torch
from torch import nn

from gan_cli.precision import Precision


def test_fp32_is_plain_and_bf16_autocasts_matmuls():
    x, lin = torch.randn(4, 3), nn.Linear(3, 2)
    with Precision("fp32", torch.device("cpu")).autocast():
        assert lin(x).dtype == torch.float32
    with Precision("bf16", torch.device("cpu")).autocast():
        assert lin(x).dtype == torch.bfloat16


def test_a_step_applies_and_reports_it():
    lin = nn.Linear(3, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    before = lin.weight.detach().clone()
    prec = Precision("fp32", torch.device("cpu"))
    assert prec.backward_step(lin(torch.randn(4, 3)).sum(), opt, "d")
    assert not torch.equal(before, lin.weight)
    assert prec.state_dict().keys() == {"d", "g"}


def test_an_fp16_overflow_skips_the_update_and_halves_the_scale():
    """Dynamic loss scaling: gradients that overflow once scaled leave the weights as they were, the step
    reports the skip, and the scale halves; the next clean step applies."""
    lin = nn.Linear(3, 1)
    opt = torch.optim.SGD(lin.parameters(), lr=0.1)
    prec = Precision("fp16", torch.device("cpu"))
    scale = prec.scalers["d"].get_scale()
    weight, bias = lin.weight.detach().clone(), lin.bias.detach().clone()
    huge = 1e35 * lin(torch.ones(4, 3)).sum()  # times the scale (65,536): past fp32's range, inf gradients
    assert prec.backward_step(huge, opt, "d") is False
    assert torch.equal(lin.weight, weight) and torch.equal(lin.bias, bias)
    assert prec.scalers["d"].get_scale() == scale / 2
    assert prec.scalers["g"].get_scale() == scale  # each network its own scaler
    opt.zero_grad()
    assert prec.backward_step(lin(torch.ones(4, 3)).sum(), opt, "d") is True
    assert not torch.equal(lin.weight, weight)
    assert prec.scalers["d"].get_scale() == scale / 2  # grows only after growth_interval clean steps
