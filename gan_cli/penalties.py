"""Gradient penalties: pure (D, real, fake) -> scalar, applied every `every` D steps and scaled by it.

The tricks in gan_cli/tricks/penalty.py add them to D's loss."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gan_cli.nets.heads import Packed


class Penalty:
    """A gradient penalty added to D's loss every `every` D updates, scaled by `every` (lazy)."""

    name = "penalty"

    def __init__(self, weight: float, every: int = 1) -> None:
        self.weight, self.every = float(weight), int(every)

    def due(self, d_update: int) -> bool:
        """Whether the penalty runs at this D update (counted from 0); lazy when every > 1."""
        return self.weight > 0 and d_update % self.every == 0

    def __call__(
        self, D: nn.Module, real: Tensor, fake: Tensor, scaler: Any = None, y: Tensor | None = None
    ) -> Tensor:
        """The penalty for D (called as D(x, y), y the real labels of a conditional D, else None)."""
        raise NotImplementedError


def as_judged(D: nn.Module, x: Tensor) -> tuple[nn.Module, Tensor]:
    """The network D runs and the input it sees: for PacGAN's packed D (model.pac > 1), its inner network
    and the pac-tuples [N / pac, pac * C, ...], so that a penalty acts on what D actually judges (one
    gradient per pack) rather than on each sample through the packing."""
    if isinstance(D, Packed):
        return D.D, D.pack(x)
    return D, x


def input_gradient(D: nn.Module, x: Tensor, scaler: Any = None, y: Tensor | None = None) -> Tensor:
    """grad_x sum D(x, y) per sample [N, ...] in fp32, with a graph so that a penalty on it trains D.

    `scaler`: the fp16 GradScaler, if any: the gradient is taken of the scaled output (so it does not
    underflow in fp16) and unscaled afterwards, as in PyTorch's AMP recipe.
    """
    x = x.detach().requires_grad_(True)
    out = D(x, y).logits.float().sum()
    scaled = scaler is not None and scaler.is_enabled()
    (grad,) = torch.autograd.grad(scaler.scale(out) if scaled else out, x, create_graph=True)
    grad = grad.float()
    return grad / scaler.get_scale() if scaled else grad


class GradientPenalty(Penalty):
    """WGAN-GP (Gulrajani et al. 2017): weight * E[(||grad_x D(x_hat)||_2 - 1)^2].

    x_hat = eps * real + (1 - eps) * fake with one eps ~ U[0, 1] per sample D judges (per pack with PacGAN).
    """

    name = "gp"

    def __init__(self, weight: float = 10.0, every: int = 1) -> None:
        super().__init__(weight, every)

    def __call__(
        self, D: nn.Module, real: Tensor, fake: Tensor, scaler: Any = None, y: Tensor | None = None
    ) -> Tensor:
        net, real = as_judged(D, real.detach())  # packed: one eps and one gradient norm per pack
        _, fake = as_judged(D, fake.detach())
        eps = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)  # [N, 1, ...]
        x_hat = eps * real + (1 - eps) * fake
        norm = input_gradient(net, x_hat, scaler, y).flatten(1).norm(2, dim=1)  # [N]
        return self.weight * self.every * (norm - 1).pow(2).mean()


class R1Penalty(Penalty):
    """R1 (Mescheder et al. 2018): gamma / 2 * E_real[||grad_x D(x)||^2], for any loss.

    It pushes D towards zero gradient on the data, which makes the GAN game converge locally
    (a plain GAN's oscillates around the equilibrium instead).
    """

    name = "r1"

    def __call__(
        self, D: nn.Module, real: Tensor, fake: Tensor, scaler: Any = None, y: Tensor | None = None
    ) -> Tensor:
        net, real = as_judged(D, real)  # packed: the gradient at each pack D judges, averaged over packs
        grad = input_gradient(net, real, scaler, y)
        return 0.5 * self.weight * self.every * grad.flatten(1).pow(2).sum(dim=1).mean()
