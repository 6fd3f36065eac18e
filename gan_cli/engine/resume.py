"""`gan-train resume=RUN_DIR [overrides]`: the config a resumed run continues with.

A resumed run keeps its own saved config (from its checkpoint), whatever the defaults are today. Command
line overrides may change how long to train and how to watch it (schema.RESUMABLE_KEYS); a change to what
is trained (another model, loss, dataset, learning rate, ...) cannot continue the same run and is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import DictConfig, OmegaConf

from gan_cli import checkpoint
from gan_cli.errors import UserError
from gan_cli.schema import RESUMABLE_KEYS, typed


def _plain(node: Any) -> Any:
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _changed_keys(saved: DictConfig, cfg: DictConfig, overrides: list[str] | None) -> list[str]:
    """Keys the caller asks to change: from the command-line overrides, or (from Python) every difference."""
    if overrides is None:
        flat_saved = _flatten(_plain(saved))
        flat_new = _flatten(_plain(cfg))
        return sorted(
            k
            for k in flat_new.keys() | flat_saved.keys()
            if k != "resume" and flat_new.get(k) != flat_saved.get(k)
        )
    absent = object()
    keys = []
    for override in OverridesParser.create().parse_overrides(overrides):
        key = override.key_or_group
        if key == "resume" or key.startswith("hydra"):
            continue
        before = OmegaConf.select(saved, key, default=absent)
        if before is absent or _plain(OmegaConf.select(cfg, key)) != _plain(before):
            keys.append(key)  # `experiment=...` and the like always count as a change
    return keys


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix[:-1]: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}{k}."))
    return out


def resume_config(cfg: DictConfig, overrides: list[str] | None) -> tuple[DictConfig, dict[str, Any], Path]:
    """(config to train with, the checkpoint to continue from, the run folder) for `cfg.resume`."""
    run_dir = Path(cfg.resume).expanduser()
    if not run_dir.is_dir():
        raise UserError(f"resume={cfg.resume}: no such run folder.")
    ckpt_path = run_dir / "checkpoints" / "last.pt"
    if not ckpt_path.is_file():
        raise UserError(
            f"resume={cfg.resume}: {ckpt_path} is missing, so there is nothing to resume. "
            "(A run writes it every train.ckpt_every steps.)"
        )
    state = checkpoint.load(ckpt_path)
    saved = typed(state["config"])
    changed = _changed_keys(saved, cfg, overrides)
    if cfg.train.precision == "auto":  # the run's recorded choice stands (a requeued job's config says auto)
        changed = [k for k in changed if k != "train.precision"]
    refused = [k for k in changed if k not in RESUMABLE_KEYS]
    if refused:
        raise UserError(
            f"cannot resume {run_dir} with a different {', '.join(refused)}: a resumed run continues the "
            f"same training. Only {', '.join(RESUMABLE_KEYS)} may change on resume; start a new run for "
            "anything else."
        )
    for key in changed:
        OmegaConf.update(saved, key, OmegaConf.select(cfg, key), merge=False)
    saved.resume = str(run_dir)
    return saved, state, run_dir
