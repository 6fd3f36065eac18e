"""losses.py: each loss against closed forms from the GAN paper and its successors."""

from __future__ import annotations

import math

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.losses import LOSSES, build_loss
from gan_cli.schema import LossConfig
from tests.helpers import (
    SMALL_MLP,
    group_cfg,
    train_run,
)


def build(name: str, **kw):
    return LOSSES.build(
        OmegaConf.create({"name": name, "clip": 0.01, "gp_weight": 10.0, "gp_every": 1, **kw})
    )


LOG4 = math.log(4.0)


@pytest.mark.parametrize("name", ["minimax", "nonsaturating"])
def test_d_loss_is_log4_when_D_is_one_half_everywhere(name):
    # V(D, G) = E log D(x) + E log(1 - D(G(z))) = 2 log(1/2) = -log 4 at D = 1/2; D minimises -V.
    loss = build(name)
    half = torch.zeros(5)
    assert loss.d_loss(half, half).item() == pytest.approx(LOG4, abs=1e-6)


def test_minimax_and_nonsaturating_g_losses_match_their_definitions():
    fake = torch.tensor([-3.0, -0.5, 0.0, 2.0])
    d = torch.sigmoid(fake.double())
    assert build("minimax").g_loss(fake).item() == pytest.approx(torch.log1p(-d).mean().item(), rel=1e-5)
    assert build("nonsaturating").g_loss(fake).item() == pytest.approx(
        (-torch.log(d)).mean().item(), rel=1e-5
    )


def test_nonsaturating_gradient_is_strong_where_minimax_saturates():
    # Early in training D(G(z)) ~ 0: d/dlogit log(1 - D) = -D ~ 0, while d/dlogit -log D = D - 1 ~ -1.
    fake = torch.full((4,), -8.0, requires_grad=True)
    (g_mm,) = torch.autograd.grad(build("minimax").g_loss(fake), fake)
    (g_ns,) = torch.autograd.grad(build("nonsaturating").g_loss(fake), fake)
    assert g_mm.abs().max() < 1e-3 * g_ns.abs().min()


def test_log_losses_are_stable_for_extreme_logits():
    big = torch.tensor([1e4, -1e4, 80.0, -80.0])
    for name in ("minimax", "nonsaturating"):
        loss = build(name)
        for value in (loss.d_loss(big, -big), loss.d_loss(-big, big), loss.g_loss(big), loss.g_loss(-big)):
            assert torch.isfinite(value)
    # all wrong by a margin: each half is mean(softplus(|logit|)) over the two confidently wrong entries
    assert build("minimax").d_loss(-big, big).item() == pytest.approx(2 * (1e4 + 80) / 4)


def test_optimal_discriminator_and_jsd():
    """D* = p_data / (p_data + p_g) maximises V, and V(D*) = -log 4 + 2 JSD(p_data || p_g)."""
    p = torch.tensor([0.5, 0.3, 0.2, 0.0], dtype=torch.float64)
    q = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
    # The loss sees samples: 1000 draws in exact proportions, so its mean is the expectation.
    real_idx = torch.repeat_interleave(torch.arange(4), (p * 1000).long())
    fake_idx = torch.repeat_interleave(torch.arange(4), (q * 1000).long())
    table = torch.zeros(4, dtype=torch.float64, requires_grad=True)  # D's logit at each point
    opt = torch.optim.LBFGS([table], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-14)
    loss = build("minimax")

    def closure():
        opt.zero_grad()
        value = loss.d_loss(table[real_idx], table[fake_idx])
        value.backward()
        return value

    opt.step(closure)
    d_star = p / (p + q)
    learned = torch.sigmoid(table.detach())
    assert torch.allclose(learned[:3], d_star[:3], atol=1e-4)  # where p_g > 0 and p_data > 0
    assert learned[3] < 1e-3  # p_data = 0 there: D* = 0

    m = (p + q) / 2
    kl = lambda a, b: torch.where(a > 0, a * torch.log(a / b), torch.zeros_like(a)).sum()  # noqa: E731
    jsd = 0.5 * kl(p, m) + 0.5 * kl(q, m)
    v_star = -loss.d_loss(table[real_idx], table[fake_idx]).item()
    assert v_star == pytest.approx(-LOG4 + 2 * jsd.item(), abs=1e-4)
    # and C(G) = -log 4 exactly when p_g = p_data (JSD = 0)
    assert -loss.d_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(-LOG4)


def test_lsgan_has_the_half_factors():
    loss = build("lsgan")
    assert loss.d_loss(torch.ones(3), torch.zeros(3)).item() == 0.0
    assert loss.d_loss(torch.zeros(3), torch.ones(3)).item() == pytest.approx(1.0)  # 1/2 * 1 + 1/2 * 1
    assert loss.d_loss(torch.full((3,), 0.5), torch.full((3,), 0.5)).item() == pytest.approx(0.25)
    assert loss.g_loss(torch.zeros(3)).item() == pytest.approx(0.5)
    assert loss.g_loss(torch.ones(3)).item() == 0.0


def test_hinge():
    loss = build("hinge")
    assert loss.d_loss(torch.ones(4), -torch.ones(4)).item() == 0.0
    assert loss.d_loss(torch.zeros(4), torch.zeros(4)).item() == pytest.approx(2.0)
    assert loss.d_loss(torch.tensor([3.0, -1.0]), torch.tensor([0.5, -4.0])).item() == pytest.approx(
        1.0 + 0.75
    )
    assert loss.g_loss(torch.tensor([1.0, 3.0])).item() == pytest.approx(-2.0)


def test_wgan_losses_and_weight_clipping():
    loss = build("wgan", clip=0.05)
    assert loss.d_loss(torch.tensor([2.0, 4.0]), torch.tensor([1.0, -1.0])).item() == pytest.approx(0.0 - 3.0)
    assert loss.g_loss(torch.tensor([1.0, 2.0])).item() == pytest.approx(-1.5)
    D = nn.Linear(3, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[1.0, -0.01, -2.0]]))
    loss.after_d_step(D)
    assert D.weight.tolist() == [[pytest.approx(0.05), pytest.approx(-0.01), pytest.approx(-0.05)]]
    assert build("wgan").clip == 0.01  # the WGAN paper's default


def test_unknown_loss_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        LOSSES.get("lsgam")
    message = str(err.value)
    for name in ("minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp"):
        assert name in message


@pytest.mark.slow
def test_wgan_clips_critic_weights(tmp_path):
    out, _ = train_run(tmp_path, ["dataset=ring", "model=mlp", "loss=wgan", "loss.clip=0.02", *SMALL_MLP])
    state = checkpoint.load(out / "checkpoints" / "last.pt")
    weights = [v for k, v in state["D"].items() if v.is_floating_point()]
    assert max(w.abs().max().item() for w in weights) <= 0.02 + 1e-7


def test_relativistic_average_loss_closed_forms():
    loss = build_loss(group_cfg(LossConfig, "ragan"))
    same = torch.zeros(5)
    # real and fake equally realistic: each term is -log sigmoid(0) = log 2
    assert loss.d_loss(same, same).item() == pytest.approx(2 * math.log(2))
    assert loss.g_loss(same, same).item() == pytest.approx(2 * math.log(2))
    real, fake = torch.tensor([2.0, 4.0]), torch.tensor([-1.0, 1.0])  # means 3 and 0
    expected_d = (math.log1p(math.exp(-2)) + math.log1p(math.exp(-4))) / 2 + (
        math.log1p(math.exp(-4)) + math.log1p(math.exp(-2))
    ) / 2
    assert loss.d_loss(real, fake).item() == pytest.approx(expected_d)
    assert loss.g_loss(fake, real).item() == pytest.approx(loss.d_loss(fake, real).item())
    assert loss.g_needs_real
    with pytest.raises(ValueError):
        loss.g_loss(fake)
