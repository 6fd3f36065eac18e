"""penalties.py: gradient penalties against closed forms (linear critics, quadratic bowls)."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gan_cli.losses import LOSSES
from gan_cli.nets import DOut
from gan_cli.penalties import GradientPenalty, R1Penalty


def build(name: str, **kw):
    return LOSSES.build(
        OmegaConf.create({"name": name, "clip": 0.01, "gp_weight": 10.0, "gp_every": 1, **kw})
    )


def test_gradient_penalty_is_exact_for_a_linear_critic():
    # D(x) = w . x has gradient w everywhere: penalty = lambda * (||w|| - 1)^2, whatever the interpolation.
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))  # ||w|| = 5
    critic = lambda x, y=None: DOut(D(x).squeeze(1))  # noqa: E731
    real, fake = torch.randn(16, 2), torch.randn(16, 2)
    assert GradientPenalty(weight=10.0)(critic, real, fake).item() == pytest.approx(10.0 * 16.0)
    assert GradientPenalty(weight=10.0, every=4)(critic, real, fake).item() == pytest.approx(4 * 160.0)
    assert build("wgan-gp").penalty.weight == 10.0


def test_gradient_penalty_uses_one_interpolation_factor_per_sample():
    # A critic whose gradient depends on the position: D(x) = 0.5 * ||x||^2 has gradient x, so
    # with real = a, fake = 0 the norm is eps_i * ||a||; per-sample eps spread the norms out.
    real = torch.ones(256, 1, 2, 2)
    critic = lambda x, y=None: DOut(0.5 * x.flatten(1).pow(2).sum(1))  # noqa: E731
    torch.manual_seed(0)
    pen = GradientPenalty(weight=1.0)
    value = pen(critic, real, torch.zeros_like(real)).item()
    # E[(2 eps - 1)^2] over eps ~ U[0, 1] = 1/3 (||a|| = 2)
    assert value == pytest.approx(1.0 / 3.0, abs=0.05)


def test_penalty_gradient_reaches_D():
    D = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1))
    value = GradientPenalty(10.0)(
        lambda x, y=None: DOut(D(x).squeeze(1)), torch.randn(8, 2), torch.randn(8, 2)
    )
    value.backward()
    # every weight shapes the input gradient; the last bias does not, so it rightly gets no gradient
    for p in (D[0].weight, D[0].bias, D[2].weight):
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    assert D[2].bias.grad is None


def test_lazy_penalty_schedule():
    pen = GradientPenalty(weight=10.0, every=4)
    assert [pen.due(i) for i in range(8)] == [True, False, False, False, True, False, False, False]
    assert not GradientPenalty(weight=0.0).due(0)


def test_r1_is_exact_for_a_linear_critic():
    # D(x) = w . x: grad = w at every real point, R1 = gamma / 2 * ||w||^2 (lazy: times `every`)
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    critic = lambda x, y=None: DOut(D(x).squeeze(1))  # noqa: E731
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert R1Penalty(0.1)(critic, real, fake).item() == pytest.approx(0.05 * 25)
    assert R1Penalty(0.1, every=4)(critic, real, fake).item() == pytest.approx(4 * 0.05 * 25)
    # only real points matter: a critic flat at the data but steep elsewhere has no R1
    bowl = lambda x, y=None: DOut((x - real[:1]).pow(2).sum(1))  # noqa: E731
    assert R1Penalty(1.0)(bowl, real[:1], fake[:1]).item() == pytest.approx(0.0)


def linear_packed(pac: int, w: torch.Tensor):
    """A PacGAN D (model.pac) whose inner network is linear, w . x on the packed input [N / pac, pac * 2]."""
    from gan_cli.nets import Packed

    class Inner(nn.Module):
        def forward(self, x, y=None):
            return DOut(x.flatten(1) @ w)

    return Packed(Inner(), pac)


def test_r1_with_packing_penalises_the_gradient_at_each_pack_d_judges():
    # inner D(p) = w . p on packs p of 2 points: grad_p = w, R1 = gamma / 2 * ||w||^2 averaged over packs.
    # Through the packing, per sample, the gradient is half of w each and the mean over samples 1/pac of it.
    w = torch.tensor([3.0, 4.0, 0.0, 12.0])  # ||w||^2 = 169
    D = linear_packed(2, w)
    real = torch.randn(8, 2)
    assert R1Penalty(0.1)(D, real, real).item() == pytest.approx(0.05 * 169)


def test_wgan_gp_with_packing_pushes_the_packed_input_s_gradient_norm_to_one():
    # ||w|| = 13 on the packed input: (13 - 1)^2 per pack; per sample it would be (5 - 1)^2 and (12 - 1)^2
    w = torch.tensor([3.0, 4.0, 0.0, 12.0])
    D = linear_packed(2, w)
    real, fake = torch.randn(8, 2), torch.randn(8, 2)
    assert GradientPenalty(weight=1.0)(D, real, fake).item() == pytest.approx(144.0)


def test_wgan_gp_with_packing_draws_one_interpolation_factor_per_pack():
    # inner D(p) = 0.5 ||p||^2 has gradient p: with real = a and fake = 0, x_hat = eps a. With one eps per
    # pack both halves of a pack share it: the two points of each pack are equal multiples of a.
    seen = []

    class Bowl(nn.Module):
        def forward(self, x, y=None):
            seen.append(x.detach().clone())
            return DOut(0.5 * x.flatten(1).pow(2).sum(1))

    from gan_cli.nets import Packed

    real = torch.ones(64, 2)
    GradientPenalty(weight=1.0)(Packed(Bowl(), 2), real, torch.zeros_like(real))
    (packs,) = seen  # [32, 4]: (eps, eps, eps, eps) rows
    assert packs.shape == (32, 4)
    assert torch.allclose(packs, packs[:, :1].expand_as(packs))
    assert packs[:, 0].std() > 0.1  # and different packs draw different eps
