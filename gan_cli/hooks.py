"""Hydra callbacks: checks that must happen before Hydra itself touches the disk."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gan_cli.checkpoint import refuse_existing_run, requeued
from gan_cli.errors import UserError, report


def check_writable_folder(path: str | Path, key: str) -> None:
    """Refuse, before anything is written, an output folder that cannot be created or written to."""
    path = Path(path).expanduser().absolute()
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"{key}={path} cannot be created: {probe} is a file, not a folder.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(
            f"{key}={path} cannot be written: no write permission in {probe} (or it is read-only)."
        )


class OutputDirCheck(Callback):
    """Turns an unusable run or sweep folder into one readable paragraph instead of Hydra's traceback."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        def checks() -> None:
            check_writable_folder(config.hydra.run.dir, "hydra.run.dir")
            run_dir = Path(config.hydra.run.dir)
            # before Hydra writes its .hydra/ files over an existing run's (a requeued job resumes it)
            if not config.get("resume") and not requeued(run_dir):
                refuse_existing_run(run_dir)

        self._report_and_exit(checks)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._report_and_exit(lambda: check_writable_folder(config.hydra.sweep.dir, "hydra.sweep.dir"))

    @staticmethod
    def _report_and_exit(checks: Callable[[], None]) -> None:
        try:
            checks()
        except UserError as err:
            report("gan-train", err)
            sys.exit(2)
