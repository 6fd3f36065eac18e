"""Evaluation metrics as pure functions: tensors in, numbers out.

The 2-D mixtures follow the PacGAN protocol (Lin et al. 2018, Table 1); the JSD gauge follows the seeds'
C(G) = -log 4 + 2 JSD(p_data || p_g).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

PACGAN_SAMPLES = 2500


def mixture_metrics(points: Tensor, centers: Tensor, std: float) -> dict[str, float | int | None]:
    """PacGAN's mode metrics for generated 2-D points [N, 2] against the mixture's centres [M, 2].

    A point is high quality when it lies within 3 std of its nearest mode; a mode is captured when it is
    the nearest mode of at least one high-quality point; reverse KL is KL(mode histogram of the
    high-quality points || uniform over the M modes) (None when no point is high quality).
    """
    points, centers = points.detach().double().cpu(), centers.double().cpu()
    dist, nearest = torch.cdist(points, centers).min(dim=1)  # [N], [N]
    high = dist <= 3 * std
    counts = torch.bincount(nearest[high], minlength=len(centers)).double()  # [M]
    reverse_kl = None
    if counts.sum() > 0:
        p = counts / counts.sum()
        nz = p > 0
        reverse_kl = float((p[nz] * (p[nz] * len(centers)).log()).sum())
    return {
        "modes": int((counts > 0).sum()),
        "high_quality": float(high.double().mean()),
        "reverse_kl": reverse_kl,
        "num_samples": len(points),
        "num_modes_total": len(centers),
    }


def jsd_estimate(real_logits: Tensor, fake_logits: Tensor) -> float:
    """(V(D, G) + log 4) / 2, with V = E[log D(x)] + E[log(1 - D(G(z)))] and D = sigmoid(logits).

    Equal to JSD(p_data || p_g) when D is the optimal D*; for any other D it is a lower bound.
    """
    v = torch.nn.functional.logsigmoid(real_logits.double()).mean()
    v = v + torch.nn.functional.logsigmoid(-fake_logits.double()).mean()
    return float((v + math.log(4.0)) / 2)
