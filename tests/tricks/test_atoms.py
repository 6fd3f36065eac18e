"""tricks/atoms.py: the even-use term of G's learned output points and the hard phase, alone and in a run."""

from __future__ import annotations

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.train import train
from gan_cli.tricks.atoms import Atoms
from tests.helpers import FAST, RING, event_tags, make_cfg

ATOMS = ["model.g_atoms=8", "model.g_atoms_spread=2.0", "model.g_atoms_offset=0.3"]


@pytest.mark.slow
def test_a_run_with_atom_balance_logs_it_and_trains_another_g(tmp_path):
    train(make_cfg([*FAST, *RING, *ATOMS, "model.g_atoms_balance=1.0"]), tmp_path / "balance")
    train(make_cfg([*FAST, *RING, *ATOMS]), tmp_path / "plain")
    scalars = event_tags(tmp_path / "balance")["scalars"]
    assert "loss/atom_balance" in scalars
    assert "loss/atom_balance" not in event_tags(tmp_path / "plain")["scalars"]
    # the hard phase trains and resumes like the rest (exact resume is tested for every trick elsewhere)
    hard = ["model.g_atoms_hard=0.5", "model.g_atoms_balance=1.0"]
    train(make_cfg([*FAST, *RING, *ATOMS, *hard]), tmp_path / "hard")
    a, b = (checkpoint.load(tmp_path / r / "checkpoints" / "last.pt")["G"] for r in ("balance", "plain"))
    assert any(not torch.equal(a[k], b[k]) for k in a if k.startswith("atoms."))


def test_atom_balance_term_is_its_weight_times_the_layers_imbalance():
    from gan_cli.models import build_models
    from gan_cli.tricks import Batch

    cfg = make_cfg([*RING, *ATOMS])
    G, _ = build_models(cfg, (2,))
    trick = Atoms(0.5, None)
    trick.prepare(G, None, None)  # finds G's output layer and asks it for the term
    G(torch.randn(32, cfg.model.nz))
    term = trick.g_terms(Batch(1, 0, torch.zeros(1, 2), None, torch.zeros(1, 3)), None)["loss/atom_balance"]
    assert term.value.item() == pytest.approx(G.atoms.imbalance.item())
    assert term.loss.item() == pytest.approx(0.5 * G.atoms.imbalance.item())
    assert term.loss.requires_grad  # G learns from it


def test_the_hard_phase_is_the_last_fraction_of_training_and_sampling():
    from gan_cli.losses import build_loss
    from gan_cli.models import build_models
    from gan_cli.tricks import Batch, build_tricks

    cfg = make_cfg([*FAST, *RING, *ATOMS, "model.g_atoms_hard=0.5"])  # 6 steps: 4, 5, 6 hard
    (trick,) = [t for t in build_tricks(cfg, build_loss(cfg.loss)) if t.name == "atoms"]
    G, _ = build_models(cfg, (2,))
    assert G.atoms.hard  # as G samples after training
    trick.prepare(G, None, None)
    seen = []
    for step in range(1, 7):
        trick.before_d(Batch(step, step - 1, torch.zeros(1, 2), None, torch.zeros(1, 3)))
        seen.append(G.atoms.hard)
    assert seen == [False, False, False, True, True, True]
    assert trick.g_terms(None, None) == {}  # no balance term asked for
    balanced = Atoms(1.0, 4)
    balanced.prepare(G, None, None)
    G.train()
    G(torch.randn(8, cfg.model.nz))
    for step in (3, 4):  # the term stays on in the hard phase (without it, measured: G comes apart)
        term = balanced.g_terms(Batch(step, step - 1, torch.zeros(1, 2), None, torch.zeros(1, 3)), None)
        assert term["loss/atom_balance"].loss is not None
    plain, _ = build_models(make_cfg([*RING, *ATOMS]), (2,))
    assert not plain.atoms.hard
