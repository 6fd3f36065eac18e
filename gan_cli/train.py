"""gan-train: build the components named by the config and train them (the engine: gan_cli/engine/).

`main()` is the console entry: Hydra composes the config from conf/ and the command line, and
`_hydra_main` runs one job of it (several under -m) through the engine's `train(cfg, out_dir)`, the plain
function that Python code and tests call as well.
"""

from __future__ import annotations

import os
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


def name_sweep_jobs(argv: list[str]) -> None:
    """Under -m, tell the job-folder resolver (schema.job_dir_name) which keys the command line sweeps, so
    that each job is named by what changes; a search sweeper (hparams_search=...) picks values of its
    own, so its jobs are named by all their overrides."""
    if not any(a in ("-m", "--multirun") for a in argv) or any(a.startswith("hparams_search=") for a in argv):
        os.environ.pop(schema.SWEPT_ENV, None)
        return
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides([a for a in argv if not a.startswith("-")])
    except Exception:  # Hydra itself reports a malformed override
        return
    swept = [o.key_or_group for o in parsed if o.is_sweep_override() and not o.is_hydra_override()]
    os.environ[schema.SWEPT_ENV] = ",".join(dict.fromkeys(swept))


def quote_resume(argv: list[str]) -> list[str]:
    """`resume=multirun/.../0_loss=hinge,optimizer.lr=0.0001`: a sweep job's folder holds `=` and `,`,
    which Hydra's override grammar reads as syntax, so a resume= value holding them is quoted for it (a
    folder's name never sweeps: resume takes one run)."""
    out = []
    for a in argv:
        key, _, value = a.partition("=")
        if key == "resume" and any(c in value for c in "=,") and value[:1] not in "'\"":
            a = f"resume='{value}'"
        out.append(a)
    return out


def main() -> None:
    """Console entry `gan-train`: Hydra parses overrides; a failed job makes the exit status non-zero."""
    sys.argv[1:] = quote_resume(sys.argv[1:])
    check_plugins(sys.argv[1:])
    name_sweep_jobs(sys.argv[1:])
    # conf/hydra/launcher/submitit_*.yaml set gan-cli's defaults on top of the plugin's schema, on purpose
    warnings.filterwarnings("ignore", message=r"(?s).*is validated against ConfigStore schema")
    schema.register_schemas()
    _hydra_main()
    if _failed_jobs:
        sys.exit(2)


if __name__ == "__main__":
    main()
