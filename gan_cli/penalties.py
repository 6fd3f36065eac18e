"""Gradient penalties: pure (D, real, fake) -> scalar, applied every `every` D steps and scaled by it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class GradientPenalty:
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad_x D(x_hat)||_2 - 1)^2].

    x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample.
    """

    name = "gp"

    def __init__(self, weight: float = 10.0, every: int = 1) -> None:
        self.weight, self.every = float(weight), int(every)

    def due(self, d_update: int) -> bool:
        """Whether the penalty runs at this D update (counted from 0); lazy when every > 1."""
        return self.weight > 0 and d_update % self.every == 0

    def __call__(self, D: nn.Module, real: Tensor, fake: Tensor, scaler: Any = None) -> Tensor:
        """`scaler`: the fp16 GradScaler, if any: the input gradient is taken of the scaled output (so it
        does not underflow in fp16) and unscaled before the norm, as in PyTorch's AMP recipe."""
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)  # [N, 1, ...]
        x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        out = D(x_hat).float().sum()
        scaled = scaler is not None and scaler.is_enabled()
        (grad,) = torch.autograd.grad(scaler.scale(out) if scaled else out, x_hat, create_graph=True)
        grad = grad.float()
        if scaled:
            grad = grad / scaler.get_scale()
        norm = grad.flatten(1).norm(2, dim=1)  # [N]
        return self.weight * self.every * (norm - 1).pow(2).mean()
