"""gan-eval run=RUN_DIR [num=2500] [seed=0] [split=test] [inception=PATH|none] [truncation=PSI]: a run's
metrics, written to RUN_DIR/eval.json and printed. gan-eval run=multirun/DATE/TIME (a sweep's folder):
every finished job evaluated where it has not been, and the jobs compared in the sweep's folder
(comparison.md, comparison.csv, comparison.png: gan_cli/compare.py).

The real side is the run's own training data unless split=test: then the test files of its dataset (mnist,
fashion_mnist, cifar10), which G never saw.

2-D mixtures: PacGAN's modes, high_quality and reverse_kl, and distinct (the share of samples equal to no
other). Images: Frechet distance, k-NN precision and recall (k=3), an Inception-like score and class
coverage in the features of a small classifier trained on the dataset's labels (cached per dataset); FID,
KID and the Inception Score with the 2015-12-05 Inception weights (inception=PATH, or the torch hub cache,
where the first evaluation downloads them; inception=none leaves them out). Log losses add the JSD gauge
(V(D, G) + log 4) / 2.
2-D runs trained with train.rejection_steps add the same metrics under `rejection` for the samples that
discriminator rejection sampling keeps (as gan-sample draws them).

The same metrics run during training every `train.eval_every` steps (TensorBoard, under `metrics/`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from gan_cli.compare import compare_sweep, is_sweep
from gan_cli.errors import UserError, parse_key_values, report
from gan_cli.judge import EvalConfig, evaluate_run

__all__ = ["USAGE", "EvalConfig", "main", "run_eval"]

USAGE = (
    "usage: gan-eval run=RUN_DIR [num=2500] [seed=0] [split=train|test] [device=auto|cpu|cuda] "
    "[inception=PATH|none] [truncation=PSI]"
)


def run_eval(args: EvalConfig) -> dict[str, Any]:
    """Evaluate the run folder args.run (gan_cli/judge.py); a sweep's folder (multirun/DATE/TIME): its jobs
    compared instead (gan_cli/compare.py)."""
    if Path(args.run).is_dir() and is_sweep(Path(args.run)):
        return compare_sweep(Path(args.run), args)
    return evaluate_run(args)


def main(argv: list[str] | None = None) -> None:
    """Console entry `gan-eval`."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip() + "\n\n" + USAGE)
        return
    try:
        args: EvalConfig = parse_key_values(argv, EvalConfig, USAGE)
        if args.num < 1:
            raise UserError(f"num={args.num}: ask for at least one sample.")
        result = run_eval(args)
    except UserError as err:
        report("gan-eval", err)
        sys.exit(2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
