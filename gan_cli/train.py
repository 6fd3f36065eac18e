"""gan-train: build the components named by the config and train them (the engine: gan_cli/engine/).

`main()` is the console entry: Hydra composes the config from conf/ and the command line, and
`_hydra_main` runs one job of it (several under -m) through the engine's `train(cfg, out_dir)`, the plain
function that Python code and tests call as well.
"""

from __future__ import annotations

import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from gan_cli import schema
from gan_cli.engine import train, train_rank
from gan_cli.engine.distributed import slurm_env, torchrun_env
from gan_cli.errors import UserError, report
from gan_cli.files import write_json
from gan_cli.sweeps import check_plugins, objective_value

__all__ = ["main", "train"]

_failed_jobs: list[str] = []


@hydra.main(version_base="1.3", config_path="pkg://gan_cli.conf", config_name="config")
def _hydra_main(cfg: DictConfig) -> dict[str, Any] | float | None:
    hydra_cfg = HydraConfig.get()
    out_dir = Path(hydra_cfg.runtime.output_dir)
    overrides = list(hydra_cfg.overrides.task)
    ranks = torchrun_env() or slurm_env()  # one of several processes started by torchrun or SLURM
    try:
        if ranks is None:
            summary = train(cfg, out_dir, overrides=overrides)
        else:
            summary = train_rank(cfg, out_dir, overrides, ranks)
    except UserError as err:
        report("gan-train", err)
        _failed_jobs.append(str(out_dir))
        if not cfg.resume:  # record the failure in the job's own folder (a resumed run keeps its summary)
            try:
                write_json(
                    {"status": "failed", "error": " ".join(str(err).split())}, out_dir / "summary.json"
                )
            except OSError:
                pass
        return None
    if summary["signal"] is not None:  # Ctrl-C or SIGTERM ends the whole command, sweeps included
        sys.exit(128 + int(signal.Signals[summary["signal"]]))
    if cfg.objective:
        return objective_value(cfg.objective, summary, out_dir)
    return summary


def main() -> None:
    """Console entry `gan-train`: Hydra parses overrides; a failed job makes the exit status non-zero."""
    check_plugins(sys.argv[1:])
    # conf/hydra/launcher/submitit_*.yaml set gan-cli's defaults on top of the plugin's schema, on purpose
    warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema")
    schema.register_schemas()
    _hydra_main()
    if _failed_jobs:
        sys.exit(2)


if __name__ == "__main__":
    main()
