"""hooks.py: unusable or occupied run folders are refused before Hydra writes into them."""

from __future__ import annotations

import pytest

from tests.helpers import (
    FAST,
    RING,
    RING_CPU,
    run_cli,
)


@pytest.mark.slow
def test_an_existing_run_folder_is_refused_before_hydra_writes_into_it(trained_runs, tmp_path):
    run = trained_runs["points"]
    before = {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}
    proc = run_cli(["gan-train", *FAST, *RING, f"hydra.run.dir={run}"], cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "already holds a run" in proc.stderr and "resume=" in proc.stderr
    assert {p: p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()} == before  # untouched


@pytest.mark.slow
def test_unusable_output_folder_is_one_paragraph(tmp_path):
    (tmp_path / "a_file").write_text("x")
    for key in ("hydra.run.dir", "hydra.sweep.dir"):
        args = [
            "gan-train",
            *(["-m"] if "sweep" in key else []),
            *FAST,
            *RING_CPU,
            f"{key}={tmp_path / 'a_file' / 'r'}",
        ]
        proc = run_cli(args, cwd=tmp_path)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert key in proc.stderr and "a_file" in proc.stderr
