"""Small file helpers shared by the commands, the engine and the components."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_json(data: dict, path: str | Path) -> None:
    """Write `data` as JSON so that readers see the old file or the new one, never half of one."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def cache_dir() -> Path:
    """Where gan-cli keeps what it can rebuild (classifiers, decoded image sets): $GAN_CLI_CACHE, else
    $XDG_CACHE_HOME/gan-cli, else ~/.cache/gan-cli."""
    if os.environ.get("GAN_CLI_CACHE"):
        return Path(os.environ["GAN_CLI_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gan-cli"
