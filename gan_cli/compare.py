"""`gan-eval run=multirun/DATE/TIME`: a sweep's jobs compared. Every finished job that has no evaluation of
its last checkpoint yet is evaluated (nothing is trained), then the sweep's folder gets:

- comparison.csv and comparison.md: one row per job: its overrides as columns (the swept keys first), its
  status (completed, diverged, interrupted, failed with the error, running), minutes of training, and the
  metrics, sorted by the sweep's objective (or a default: the classifier Frechet distance for images, FID
  where there is no classifier, PacGAN's high-quality share for the 2-D mixtures);
- comparison.png: one row of samples per job, all from the same fixed latents (2-D runs: a scatter of
  their samples over the real modes), each labelled with its overrides, in the table's order.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import yaml
from PIL import Image, ImageDraw, ImageFont
from torchvision.utils import make_grid

from gan_cli.data import DATASETS
from gan_cli.errors import UserError
from gan_cli.hardware import resolve_device
from gan_cli.judge import EvalConfig, evaluate_run, final_metrics
from gan_cli.nets import generate
from gan_cli.runs import load_run

LOWER_IS_BETTER = ("fd_classifier", "fid", "kid", "reverse_kl", "copies_features", "copies_pixels")
# the metrics shown, in this order, where the jobs have them
SHOWN = (
    "precision",
    "recall",
    "fd_classifier",
    "is_ratio",
    "classes_present",
    "precision_pixels",
    "recall_pixels",
    "fid",
    "kid",
    "is",
    "modes",
    "high_quality",
    "reverse_kl",
    "distinct",
    "jsd_estimate",
)
ROW_SAMPLES = 8  # samples per job in comparison.png
LABEL_WIDTH = 360  # pixels of a row's label
LINE = 14  # pixels per line of a label


def is_sweep(path: Path) -> bool:
    """A multirun folder: Hydra's multirun.yaml, or job folders (with .hydra/) and no checkpoints."""
    if (path / "multirun.yaml").is_file():
        return True
    return not (path / "checkpoints").exists() and any((p / ".hydra").is_dir() for p in path.iterdir())


@dataclass
class Job:
    path: Path
    number: int
    overrides: list[str]
    status: str
    error: str = ""
    minutes: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, str]:
        return dict(o.split("=", 1) for o in self.overrides if "=" in o)


def _number(path: Path) -> int:
    head = path.name.split("_", 1)[0]
    return int(head) if head.isdigit() else 1 << 30


def read_jobs(sweep: Path) -> list[Job]:
    jobs = []
    for path in sorted(
        (p for p in sweep.iterdir() if (p / ".hydra").is_dir()), key=lambda p: (_number(p), p.name)
    ):
        ov_file = path / ".hydra" / "overrides.yaml"
        overrides = [str(o) for o in (yaml.safe_load(ov_file.read_text()) or [])] if ov_file.is_file() else []
        job = Job(path, _number(path), overrides, "running")
        if (path / "summary.json").is_file():
            summary = json.loads((path / "summary.json").read_text())
            job.status = summary.get("status", "unknown")
            job.error = summary.get("error", "") or ""
            if summary.get("wall_time_sec") is not None:
                job.minutes = summary["wall_time_sec"] / 60
        jobs.append(job)
    return jobs


def evaluate_jobs(jobs: list[Job], args: Any) -> None:
    """Each finished job's metrics: its eval.json when that judged its last checkpoint as asked, else a
    fresh evaluation (gan-eval run=JOB with the same arguments)."""
    default = EvalConfig(run="")
    asked = (args.num, args.seed, args.split, args.truncation)
    plain = asked == (default.num, default.seed, default.split, default.truncation)  # as final_metrics needs
    for job in jobs:
        if job.status not in ("completed", "diverged", "interrupted"):
            continue
        if not (job.path / "checkpoints" / "last.pt").is_file():
            continue
        metrics = final_metrics(job.path) if plain else None
        if metrics is None:
            one = EvalConfig(
                run=str(job.path),
                num=args.num,
                seed=args.seed,
                device=args.device,
                inception=args.inception,
                split=args.split,
                truncation=args.truncation,
            )
            try:
                metrics = evaluate_run(one)["metrics"]
            except UserError as err:
                job.error = (
                    (job.error + " " if job.error else "") + "evaluation: " + " ".join(str(err).split())
                )
                continue
        job.metrics = metrics


def sort_key(jobs: list[Job], objective: str) -> tuple[str, bool]:
    """(metric, lower is better) that orders the table: the sweep's objective, else a default."""
    have = {k for j in jobs for k, v in j.metrics.items() if isinstance(v, int | float)}
    if objective and objective != "auto" and objective in have:
        return objective, objective in LOWER_IS_BETTER
    for key in ("fid", "fd_classifier") if objective == "auto" else ("fd_classifier", "fid"):
        if key in have:
            return key, True
    if "high_quality" in have:
        return "high_quality", False
    return "", True


def ordered(jobs: list[Job], key: str, lower: bool) -> list[Job]:
    def rank(job: Job) -> tuple:
        v = job.metrics.get(key)
        ok = isinstance(v, int | float) and math.isfinite(v)
        return (not ok, (v if lower else -v) if ok else 0.0, job.number)

    return sorted(jobs, key=rank)


def override_keys(jobs: list[Job]) -> list[str]:
    """Every override key, those whose values differ between jobs first."""
    keys: list[str] = []
    for job in jobs:
        keys += [k for k in job.values() if k not in keys]
    varying = [k for k in keys if len({j.values().get(k) for j in jobs}) > 1]
    return varying + [k for k in keys if k not in varying]


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def write_tables(sweep: Path, jobs: list[Job], key: str, lower: bool) -> tuple[Path, Path]:
    keys = override_keys(jobs)
    metrics = [m for m in SHOWN if any(isinstance(j.metrics.get(m), int | float) for j in jobs)]
    header = ["job", *keys, "status", "minutes", *metrics, "error"]
    rows = []
    for job in jobs:
        values = job.values()
        rows.append(
            [job.path.name.split("_", 1)[0], *(values.get(k, "") for k in keys), job.status]
            + [_fmt(job.minutes)]
            + [_fmt(job.metrics.get(m)) for m in metrics]
            + [job.error]
        )
    csv_path, md_path = sweep / "comparison.csv", sweep / "comparison.md"
    with csv_path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    order = f"sorted by `{key}` ({'lower' if lower else 'higher'} is better)" if key else "in job order"
    lines = [f"# Sweep {sweep}", "", f"{len(jobs)} jobs, {order}. Samples: comparison.png.", ""]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in rows]
    md_path.write_text("\n".join(lines) + "\n")
    return csv_path, md_path


@torch.no_grad()
def job_row(job: Job, device: torch.device, height: int) -> Image.Image | None:
    """A job's samples from the fixed latents (seed 0), as one strip `height` pixels high."""
    if not (job.path / "checkpoints" / "last.pt").is_file():
        return None
    try:
        G, _, cfg, ckpt = load_run(job.path, device)
    except UserError:
        return None
    if ckpt["data_kind"] == "image":
        fake = generate(G, cfg.model.nz, ROW_SAMPLES, 0, device)
        grid = make_grid(
            fake.float().clamp(-1, 1), nrow=ROW_SAMPLES, padding=2, normalize=True, value_range=(-1, 1)
        )
        img = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))
        scale = height / img.height
        return img.resize((max(1, round(img.width * scale)), height), Image.NEAREST)
    data = DATASETS.build(cfg.dataset, 0, torch.device("cpu"))
    fake = generate(G, cfg.model.nz, 1000, 0, device)
    return scatter(data.centers, fake, height)


def scatter(centers: torch.Tensor, points: torch.Tensor, size: int) -> Image.Image:
    """Samples (red) over the real modes (black rings), in a square panel."""
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    lim = float(centers.abs().max()) * 1.3 + 1e-6
    px = lambda x: (float(x) / lim + 1) * size / 2  # noqa: E731
    for c in centers:
        x, y = px(c[0]), size - px(c[1])
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline="black")
    for p in points.float():
        x, y = px(p[0]), size - px(p[1])
        if 0 <= x < size and 0 <= y < size:
            img.putpixel((int(x), int(y)), (220, 30, 30))
    return img


def write_sheet(sweep: Path, jobs: list[Job], device: torch.device, height: int = 128) -> Path:
    """comparison.png: a labelled row per job (its swept overrides first), in the table's order."""
    keys = override_keys(jobs)
    strips = [(job, job_row(job, device, height)) for job in jobs]
    width = max([LABEL_WIDTH + (s.width if s else 0) for _, s in strips] + [LABEL_WIDTH + height])
    sheet = Image.new("RGB", (width, height * max(1, len(strips))), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for i, (job, strip) in enumerate(strips):
        top = i * height
        values = job.values()
        label = [f"job {job.path.name.split('_', 1)[0]}  [{job.status}]"]
        label += [f"{k}={values[k]}" for k in keys if k in values]
        lines = _wrap(label, 56)[: (height - 8) // LINE]
        draw.multiline_text((6, top + 4), "\n".join(lines), fill="black", font=font, spacing=LINE - 11)
        if strip is not None:
            sheet.paste(strip, (LABEL_WIDTH, top))
        else:
            draw.text(
                (LABEL_WIDTH + 6, top + height // 2 - 6), "no samples (no checkpoint)", fill="gray", font=font
            )
        draw.line([(0, top + height - 1), (width, top + height - 1)], fill=(200, 200, 200))
    path = sweep / "comparison.png"
    sheet.save(path)
    return path


def _wrap(lines: list[str], width: int) -> list[str]:
    out = []
    for line in lines:
        while len(line) > width:
            out.append(line[:width])
            line = "  " + line[width:]
        out.append(line)
    return out


def compare_sweep(sweep: Path, args: Any) -> dict[str, Any]:
    """Evaluate the sweep's finished jobs where needed and write the comparison files; their summary."""
    jobs = read_jobs(sweep)
    if not jobs:
        raise UserError(
            f"run={sweep} holds no sweep jobs (folders with .hydra/); give a run folder or a sweep's."
        )
    evaluate_jobs(jobs, args)
    objective = ""
    if (sweep / "multirun.yaml").is_file():
        objective = str((yaml.safe_load((sweep / "multirun.yaml").read_text()) or {}).get("objective") or "")
    key, lower = sort_key(jobs, objective)
    jobs = ordered(jobs, key, lower) if key else jobs
    csv_path, md_path = write_tables(sweep, jobs, key, lower)
    png = write_sheet(sweep, jobs, resolve_device(args.device))
    return {
        "sweep": str(sweep),
        "sorted_by": key,
        "lower_is_better": lower,
        "jobs": [
            {
                "job": j.path.name,
                "status": j.status,
                "error": j.error,
                "minutes": j.minutes,
                "metrics": j.metrics,
            }
            for j in jobs
        ],
        "files": [str(csv_path), str(md_path), str(png)],
    }
