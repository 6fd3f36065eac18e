"""Gradient penalties on D as tricks: R1 (loss.r1_gamma > 0, with any loss) and the gradient penalty that
belongs to a loss (loss=wgan-gp). Both run every `every` D updates, scaled by `every` (lazy
regularisation); the penalties themselves are pure functions (gan_cli/penalties.py)."""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

from gan_cli.errors import ConfigError
from gan_cli.penalties import GradientPenalty, Penalty, R1Penalty
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick

log = logging.getLogger(__name__)


class PenaltyTrick(Trick):
    def __init__(self, penalty: Penalty, loss_name: str) -> None:
        self.penalty, self.loss_name = penalty, loss_name
        self.name = penalty.name

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        if not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in D.modules()):
            return
        if isinstance(self.penalty, GradientPenalty):
            log.warning(
                "loss=%s penalises per-sample gradients but D uses batch norm; "
                "model.d_norm=layer (or none) is the sound choice.",
                self.loss_name,
            )
        elif isinstance(self.penalty, R1Penalty):
            log.warning(
                "loss.r1_gamma with a batch-norm D: R1 takes the gradient of D's summed output over the "
                "batch, and batch norm's statistics make each sample's output depend on the others, so the "
                "penalty includes cross-sample terms and is not the per-sample R1 of Mescheder et al.; "
                "model.d_norm=spectral, layer or none give the exact penalty."
            )

    def d_terms(self, b: Batch, run) -> dict[str, Term]:
        if not self.penalty.due(b.d_update):
            return {"loss/penalty": Term(None, torch.zeros((), device=b.real.device))}
        # on the plain D (never a data-parallel wrapper: the penalty's gradient is taken by autograd.grad),
        # with the real labels for a conditional D
        value = self.penalty(run.D, b.real_in, b.fake_in, run.precision.scalers["d"], b.y_real)
        return {"loss/penalty": Term(value, value)}

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> tuple[bool, ...]:
        return tuple(self.penalty.due(u) for u in d_updates)  # lazy: due every `every` D updates


@TRICKS.register("r1")
def r1(cfg, loss) -> Trick | None:
    gamma = float(cfg.loss.get("r1_gamma", 0.0))
    if gamma <= 0:
        return None
    if loss.penalty is not None:
        raise ConfigError(
            f"loss.r1_gamma={gamma} with loss={cfg.loss.name}, which has its own gradient penalty: "
            "use one penalty (loss.r1_gamma=0, or a loss without a penalty such as nonsaturating)."
        )
    return PenaltyTrick(R1Penalty(gamma, int(cfg.loss.get("r1_every", 1))), str(cfg.loss.name))


@TRICKS.register("gradient_penalty")
def gradient_penalty(cfg, loss) -> Trick | None:
    return PenaltyTrick(loss.penalty, str(cfg.loss.name)) if loss.penalty is not None else None
