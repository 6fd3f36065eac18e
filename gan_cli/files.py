"""Small file helpers shared by the commands and the engine."""

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
