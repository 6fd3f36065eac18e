"""What sweeps need from gan-train: the objective a sweeper optimises, and a clear error when a sweep
option's Hydra plugin is not installed."""

from __future__ import annotations

import importlib.util
import logging
import math
import sys
from pathlib import Path
from typing import Any

from gan_cli.errors import ConfigError, UserError, report
from gan_cli.judge import EvalConfig, evaluate_run, final_metrics

log = logging.getLogger("gan_cli.train")


def objective_value(name: str, summary: dict[str, Any], run_dir: Path) -> float | None:
    """The number a sweeper minimises or maximises: a gan-eval metric of the finished run. None (a failed
    trial for Optuna, never NaN) when the run did not complete or the metric is not finite."""
    if summary.get("status") != "completed":
        log.warning("objective %s: the run %s, so this trial has no value", name, summary.get("status"))
        return None
    metrics = final_metrics(run_dir) or evaluate_run(EvalConfig(run=str(run_dir)))["metrics"]
    if name == "auto":
        if "modes" in metrics:  # 2-D mixtures: modes, quality and balance in one number in [0, 1]
            rkl = metrics["reverse_kl"]
            score = metrics["modes"] / metrics["num_modes_total"] * metrics["high_quality"]
            value = 1.0 - score * math.exp(-rkl) if rkl is not None else 1.0
        else:
            value = metrics.get("fid", metrics.get("fd_classifier"))
    elif name in metrics and isinstance(metrics[name], int | float):
        value = metrics[name]
    else:
        numeric = sorted(k for k, v in metrics.items() if isinstance(v, int | float))
        raise ConfigError(f"objective={name} is not a metric of this run; use auto or one of {numeric}.")
    if value is None or not math.isfinite(value):
        log.warning("objective %s is not finite (%s); this trial has no value", name, value)
        return None
    log.info("objective %s = %.6g", name, value)
    return float(value)


PLUGINS = {  # what an option needs, and the module that provides it
    "hparams_search=optuna": "hydra_plugins.hydra_optuna_sweeper",
    "hydra/sweeper=optuna": "hydra_plugins.hydra_optuna_sweeper",
    "hydra/launcher=submitit_slurm": "hydra_plugins.hydra_submitit_launcher",
    "hydra/launcher=submitit_local": "hydra_plugins.hydra_submitit_launcher",
    "hydra/launcher=joblib": "hydra_plugins.hydra_joblib_launcher",
}


def check_plugins(argv: list[str]) -> None:
    """A sweep option whose Hydra plugin is missing gets one paragraph saying what to install."""
    for arg in argv:
        module = PLUGINS.get(arg.lstrip("+"))
        if module and importlib.util.find_spec(module) is None:
            report(
                "gan-train",
                UserError(
                    f"{arg} needs a Hydra plugin that is not installed ({module}). Install the sweep extra: "
                    "pip install 'gan-cli[sweep]' (the Optuna sweeper, the Submitit and joblib launchers)."
                ),
            )
            sys.exit(2)
