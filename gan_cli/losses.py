"""GAN losses as pure functions of D's logits: tensors in, scalar out, no backward inside.

Each class gives `d_loss(real_logits, fake_logits)` (minimised by D) and `g_loss(fake_logits, real_logits)`
(minimised by G; only the relativistic loss reads real_logits, and `g_needs_real` says so), plus
`prob(logits)`, what D's output means as "probability of real" for logging, `penalty` (the gradient
penalty that belongs to the loss, as WGAN-GP's, or None; the penalty trick applies it) and
`after_d_step(D)` for constraints such as weight clipping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gan_cli.penalties import GradientPenalty, Penalty
from gan_cli.registry import Registry

LOSSES = Registry("loss")


class GANLoss:
    penalty: Penalty | None = None
    d_label = "D score"  # what prob() returns, for plots
    g_needs_real = False  # whether g_loss reads D's logits on real data
    estimates_probability = False  # sigmoid(D) estimates P(real): D* = p_data / (p_data + p_g) applies
    boundary = 0.0  # D's output between its real and fake targets: ADA's r_t counts outputs above it

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        raise NotImplementedError

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def prob(self, logits: Tensor) -> Tensor:
        """D's output as logged: a probability for the log-loss GANs, a raw score otherwise."""
        return logits

    def after_d_step(self, D: nn.Module) -> None:
        """Called after every D update (WGAN clips D's weights here)."""


class Minimax(GANLoss):
    """The paper's value function V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))], D = sigmoid(logits).

    D maximises V, i.e. minimises -log D(x) - log(1 - D(G(z))) = softplus(-real) + softplus(fake).
    G minimises log(1 - D(G(z))) = -softplus(fake).
    """

    d_label = "D(x) = P(real)"
    estimates_probability = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -F.softplus(fake_logits).mean()

    def prob(self, logits: Tensor) -> Tensor:
        return torch.sigmoid(logits)


class NonSaturating(Minimax):
    """Same D; G maximises log D(G(z)), i.e. minimises softplus(-fake) (strong gradients early on)."""

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return F.softplus(-fake_logits).mean()


class LSGAN(GANLoss):
    """Least squares (Mao et al. 2017), with 1/2 factors: D: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2];
    G: 1/2 E[(D(G(z)) - 1)^2]."""

    boundary = 0.5  # the targets are 1 (real) and 0 (fake)

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return 0.5 * (real_logits - 1).pow(2).mean() + 0.5 * fake_logits.pow(2).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return 0.5 * (fake_logits - 1).pow(2).mean()


class Hinge(GANLoss):
    """D: E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]; G: -E[D(G(z))]."""

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.mean()


class RelativisticAverage(GANLoss):
    """RaGAN with the log loss (Jolicoeur-Martineau 2018): D judges whether real data is more realistic than
    the average fake, and fake less realistic than the average real, with C the raw logits:
    D: -E[log sigmoid(C(x) - E C(G(z)))] - E[log(1 - sigmoid(C(G(z)) - E C(x)))]; G: the same with the
    labels swapped, so G also gets a gradient through the real data's term.
    """

    g_needs_real = True

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return (
            F.softplus(-(real_logits - fake_logits.mean())).mean()
            + F.softplus(fake_logits - real_logits.mean()).mean()
        )

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        if real_logits is None:
            raise ValueError("the relativistic loss needs D's logits on real data for G's update")
        return self.d_loss(fake_logits, real_logits)


class Wasserstein(GANLoss):
    """WGAN critic: D minimises E[D(G(z))] - E[D(x)]; G minimises -E[D(G(z))]; weights clipped to [-c, c]."""

    def __init__(self, clip: float | None = None) -> None:
        self.clip = clip

    def d_loss(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits: Tensor, real_logits: Tensor | None = None) -> Tensor:
        return -fake_logits.mean()

    @torch.no_grad()
    def after_d_step(self, D: nn.Module) -> None:
        if self.clip is not None:
            for p in D.parameters():
                p.clamp_(-self.clip, self.clip)


def build_loss(cfg) -> GANLoss:
    """The loss named by cfg.name (the loss config group)."""
    return LOSSES.build(cfg)


@LOSSES.register("minimax")
def minimax(cfg) -> GANLoss:
    return Minimax()


@LOSSES.register("nonsaturating")
def nonsaturating(cfg) -> GANLoss:
    return NonSaturating()


@LOSSES.register("lsgan")
def lsgan(cfg) -> GANLoss:
    return LSGAN()


@LOSSES.register("hinge")
def hinge(cfg) -> GANLoss:
    return Hinge()


@LOSSES.register("ragan")
def ragan(cfg) -> GANLoss:
    return RelativisticAverage()


@LOSSES.register("wgan")
def wgan(cfg) -> GANLoss:
    return Wasserstein(clip=cfg.clip)


@LOSSES.register("wgan-gp")
def wgan_gp(cfg) -> GANLoss:
    loss = Wasserstein(clip=None)
    loss.penalty = GradientPenalty(weight=cfg.gp_weight, every=cfg.gp_every)
    return loss
