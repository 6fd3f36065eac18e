"""tricks/diffaug.py: DiffAugment changes what D sees, and training with it resumes exactly."""

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


@pytest.mark.slow
def test_d_sees_augmented_images(tmp_path, monkeypatch):
    """Against a plain run from the same seed: one step with DiffAugment trains another D, and the transforms
    reach D's input (the images D judges are not the batch's)."""
    from gan_cli.tricks.diffaug import Augment
    from tests.conftest import make_cfg

    seen = []
    original = Augment.view

    def spy(self, x, step):
        out = original(self, x, step)
        seen.append((x.detach().clone(), out.detach().clone()))
        return out

    common = ["model.ngf=8", "model.ndf=8", "train.steps=1", "train.sample_every=0", "train.device=cpu"]
    monkeypatch.setattr(Augment, "view", spy)
    train(make_cfg([*common, "train.diffaug=[translation,cutout]"]), tmp_path / "aug")
    train(make_cfg(common), tmp_path / "plain")
    a = torch.load(tmp_path / "aug/checkpoints/last.pt", weights_only=True)
    b = torch.load(tmp_path / "plain/checkpoints/last.pt", weights_only=True)
    assert any(not torch.equal(a["D"][k], b["D"][k]) for k in a["D"])
    assert seen and all(not torch.equal(x, out) and x.shape == out.shape for x, out in seen)
