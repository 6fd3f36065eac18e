"""tricks/penalty.py: R1 and the loss's own gradient penalty as D terms, lazily."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from gan_cli.errors import ConfigError
from gan_cli.losses import build_loss
from gan_cli.nets import DOut
from gan_cli.penalties import GradientPenalty, R1Penalty
from gan_cli.precision import Precision
from gan_cli.tricks import Batch, build_tricks
from gan_cli.tricks.penalty import PenaltyTrick
from tests.helpers import RING, make_cfg


def penalty_tricks(overrides):
    cfg = make_cfg([*RING, *overrides])
    return [t for t in build_tricks(cfg, build_loss(cfg.loss)) if isinstance(t, PenaltyTrick)]


def test_r1_attaches_to_any_loss_but_not_beside_another_penalty():
    (r1,) = penalty_tricks(["loss=hinge", "loss.r1_gamma=0.5", "loss.r1_every=2"])
    assert isinstance(r1.penalty, R1Penalty) and (r1.penalty.weight, r1.penalty.every) == (0.5, 2)
    assert penalty_tricks(["loss=hinge"]) == []
    (gp,) = penalty_tricks(["loss=wgan-gp"])  # the loss's own penalty
    assert isinstance(gp.penalty, GradientPenalty) and gp.penalty.weight == 10.0
    with pytest.raises(ConfigError, match="r1_gamma"):
        penalty_tricks(["loss=wgan-gp", "loss.r1_gamma=0.5"])


def test_a_lazy_penalty_adds_to_d_s_loss_only_when_due_and_logs_zero_otherwise():
    (r1,) = penalty_tricks(["loss.r1_gamma=0.1", "loss.r1_every=4"])
    D = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[3.0, 4.0]]))
    run = SimpleNamespace(
        D=lambda x, y=None: DOut(D(x).squeeze(1)), precision=Precision("fp32", torch.device("cpu"))
    )
    real = torch.randn(8, 2)
    for update, due in [(0, True), (1, False), (3, False), (4, True)]:
        b = Batch(1, update, real, None, torch.randn(8, 2), real_in=real, fake_in=torch.randn(8, 2))
        term = r1.d_terms(b, run)["loss/penalty"]
        if due:  # gamma / 2 * ||w||^2, times 4 for the lazy schedule
            assert term.loss is not None and term.value.item() == pytest.approx(4 * 0.05 * 25)
        else:
            assert term.loss is None and term.value.item() == 0.0


@pytest.mark.parametrize("norm, warned", [("batch", True), ("spectral", False), ("layer", False)])
def test_r1_through_a_batch_norm_d_is_named_in_a_warning(caplog, norm, warned):
    """With batch norm, R1's gradient of the batch's summed output has cross-sample terms."""
    import logging

    from gan_cli.models import build_models
    from tests.helpers import SMALL_DCGAN

    cfg = make_cfg([*SMALL_DCGAN, "recipe=none", "loss.r1_gamma=0.1", f"model.d_norm={norm}"])
    G, D = build_models(cfg, (1, 32, 32))
    assert any(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == warned
    (r1,) = [t for t in build_tricks(cfg, build_loss(cfg.loss)) if isinstance(t, PenaltyTrick)]
    with caplog.at_level(logging.WARNING, logger="gan_cli.tricks.penalty"):
        r1.prepare(G, D, None)
    assert ("cross-sample terms" in caplog.text) == warned
