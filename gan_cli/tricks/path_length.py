"""StyleGAN2's path-length regularisation of G (Karras et al. 2020, section 3.2), loss.pl_weight > 0 with
model=stylegan2: every loss.pl_every G updates, for batch_size / loss.pl_batch_shrink latents, the length
of J_w^T y (y an image of N(0, 1/(H W)) pixels, J_w the Jacobian of the image in the ws) is pulled toward
its running mean a (moved by loss.pl_decay of the batch's mean each time):
pl_weight * pl_every * E[(|J_w^T y| - a)^2], as the official loss computes it (a itself not detached).
The running mean is saved in checkpoints, so a resume continues exactly."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import torch
from torch import Tensor, nn

from gan_cli.nets import CategoricalLatent
from gan_cli.nets.stylegan2 import StyleGAN2Generator
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


def path_lengths(img: Tensor, ws: Tensor, noise: Tensor) -> Tensor:
    """|J_w^T y| per latent [N]: the gradient of sum(img * noise) in ws [N, num_ws, w_dim], its squared
    norm summed over w's coordinates and averaged over the layers, square-rooted (kept differentiable)."""
    (grads,) = torch.autograd.grad((img * noise).sum(), ws, create_graph=True)
    return grads.float().square().sum(2).mean(1).sqrt()


class PathLength(Trick):
    name = "path_length"

    def __init__(self, weight: float, every: int, decay: float, shrink: int) -> None:
        self.weight, self.every, self.decay, self.shrink = weight, every, decay, shrink
        self.pl_mean = torch.zeros(())
        self.G: nn.Module | None = None
        self.net: StyleGAN2Generator | None = None

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        self.G = G
        self.net = next(m for m in G.modules() if isinstance(m, StyleGAN2Generator))
        self.pl_mean = self.pl_mean.to(next(G.parameters()).device)

    def due(self, step: int) -> bool:
        return (step - 1) % self.every == 0

    def g_terms(self, b: Batch, run: Any) -> dict[str, Term]:
        if not self.due(b.step):
            return {"loss/path_length": Term(None, torch.zeros((), device=b.z.device))}
        z = b.z[: max(1, len(b.z) // self.shrink)]
        g_in = self.G.g_input(z) if isinstance(self.G, CategoricalLatent) else z
        ws = self.net.map(g_in)  # style-mixed as in G's other forwards
        img = self.net.synthesis(ws)
        noise = torch.randn_like(img) / math.sqrt(img.shape[2] * img.shape[3])
        lengths = path_lengths(img, ws, noise)
        pl_mean = self.pl_mean.lerp(lengths.mean(), self.decay)
        self.pl_mean.copy_(pl_mean.detach())
        penalty = (lengths - pl_mean).square().mean()
        return {"loss/path_length": Term(penalty * self.weight * self.every, penalty.detach())}

    def state_dict(self) -> dict[str, Any]:
        return {"pl_mean": self.pl_mean.detach().cpu().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pl_mean.copy_(state["pl_mean"])

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> Hashable:
        return self.due(step)


@TRICKS.register("path_length")
def build(cfg, loss) -> Trick | None:
    lo = cfg.loss
    weight = float(lo.get("pl_weight", 0.0))
    if weight <= 0:
        return None
    return PathLength(weight, int(lo.pl_every), float(lo.pl_decay), int(lo.pl_batch_shrink))
