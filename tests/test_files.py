"""files.py: JSON written so that a reader sees the old file or the new one."""

from __future__ import annotations

import json

from gan_cli.files import write_json


def test_write_json_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "summary.json"
    write_json({"status": "completed", "step": 3}, path)
    write_json({"status": "failed"}, path)
    assert json.loads(path.read_text()) == {"status": "failed"}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
