"""tricks/diffaug.py: training with DiffAugment resumes exactly."""

from __future__ import annotations

import pytest
import torch

from gan_cli.train import train


@pytest.mark.slow
def test_training_with_diffaug_resumes_exactly(tmp_path):
    """The transforms draw from torch's generator, which checkpoints restore: resume is bit for bit."""
    from tests.conftest import make_cfg

    common = [
        "train.diffaug=[translation,cutout]",
        "train.log_every=1",
        "train.sample_every=0",
        "train.device=cpu",
    ]
    full = train(make_cfg([*common, "train.steps=4", "train.ckpt_every=2"]), tmp_path / "full")
    train(make_cfg([*common, "train.steps=2"]), tmp_path / "part")
    resumed = train(make_cfg([*common, "train.steps=4", f"resume={tmp_path / 'part'}"]), tmp_path / "ignored")
    a = torch.load(tmp_path / "full/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "part/checkpoints/last.pt", weights_only=True)
    for net in ("G", "D"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)
    assert full["loss_D"] == resumed["loss_D"]
