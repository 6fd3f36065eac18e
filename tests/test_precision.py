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
