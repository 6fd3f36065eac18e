"""tricks/mode_seeking.py: MSGAN's term against known values, and its paired latent classes."""

from __future__ import annotations

import pytest
import torch

from gan_cli.errors import ConfigError
from gan_cli.train import train
from tests.helpers import (
    FAST,
    SMALL_DCGAN,
    event_tags,
    make_cfg,
)


@pytest.mark.slow
def test_mode_seeking_term_known_values_and_pairs_share_their_class(tmp_path):
    from gan_cli.tricks.mode_seeking import mode_seeking

    z = torch.tensor([[0.0, 0.0], [5.0, 1.0], [0.0, 2.0], [5.0, 3.0]])  # pairs (0, 2) and (1, 3)
    fake = torch.tensor([[1.0], [1.0], [2.0], [3.0]])
    # image distance mean(|1 - 2|, |1 - 3|) = 1.5; latent distance over all coordinates mean(0, 2, 0, 2) = 1
    assert mode_seeking(fake, z).item() == pytest.approx(1 / (1.5 / 1.0 + 1e-5))
    # from coordinate 1 on (the class coordinate left out): mean(2, 2) = 2
    assert mode_seeking(fake, z, continuous_from=1).item() == pytest.approx(1 / (0.75 + 1e-5))
    # a collapsed G (one image for every z) pays 1e5; a G that spreads its images pays less
    assert mode_seeking(torch.ones(4, 1), z).item() == pytest.approx(1e5)
    base = [*FAST, *SMALL_DCGAN, "dataset=fake", "model.latent_classes=4", "loss.mode_seeking=1"]
    seen = []
    from gan_cli.nets import CategoricalLatent, category

    original = CategoricalLatent.forward
    CategoricalLatent.forward = lambda self, z: (seen.append(z.clone()), original(self, z))[1]
    try:
        train(make_cfg(base), tmp_path / "run")
    finally:
        CategoricalLatent.forward = original
    z = seen[0]
    h = len(z) // 2
    assert torch.equal(category(z[:h, 0], 4), category(z[h:, 0], 4)) and not torch.equal(z[:h, 1:], z[h:, 1:])
    assert "loss/mode_seeking" in event_tags(tmp_path / "run")["scalars"]
    with pytest.raises(ConfigError, match="loss.mode_seeking"):
        train(make_cfg([*base, "loss.mode_seeking=-1"]), tmp_path / "bad")
