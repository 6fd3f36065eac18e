"""runs.py: a run folder read back for gan-sample and gan-eval; what is wrong with it is said plainly."""

from __future__ import annotations

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.runs import load_run


def test_a_missing_folder_or_checkpoint_is_one_readable_error(tmp_path):
    with pytest.raises(UserError, match="no such run folder"):
        load_run(tmp_path / "nowhere", torch.device("cpu"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="has no checkpoint"):
        load_run(tmp_path / "empty", torch.device("cpu"))


def test_a_checkpoint_that_does_not_match_its_config_is_refused(tmp_path):
    from omegaconf import OmegaConf

    from tests.helpers import RING, make_cfg

    cfg = OmegaConf.to_container(make_cfg(RING), resolve=True)
    state = {"step": 1, "config": cfg, "data_shape": [2], "G": {"w": torch.zeros(1)}, "D": {}, "G_ema": None}
    checkpoint.save(state, tmp_path / "run" / "checkpoints" / "last.pt")
    with pytest.raises(UserError, match="does not match its own config"):
        load_run(tmp_path / "run", torch.device("cpu"))
