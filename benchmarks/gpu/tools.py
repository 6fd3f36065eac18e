"""Helpers of benchmarks/gpu/check.sh, each printing one JSON line.

python tools.py summary RUN_DIR LABEL WALL_SECONDS   # a finished gan-train run: status, speed, graph
python tools.py equal                                # the step as a CUDA graph against plain steps
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def summary(run_dir: str, label: str, wall: float) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    s = json.loads((Path(run_dir) / "summary.json").read_text())
    ev = EventAccumulator(run_dir, size_guidance={"scalars": 0})
    ev.Reload()
    rates = (
        [e.value for e in ev.Scalars("perf/images_per_sec")]
        if "perf/images_per_sec" in ev.Tags()["scalars"]
        else []
    )
    keys = ("status", "device", "precision", "cuda_graph", "loss_D", "loss_G")
    print(
        json.dumps(
            {"what": label, **{k: s.get(k) for k in keys}}
            | {
                "img_s_overall": round(s["images_per_sec"], 1),
                "img_s_last_logged": round(rates[-1], 1) if rates else None,
                "train_s": round(s["train_time_sec"], 1),
                "wall_s": wall,
            }
        )
    )


D64 = ["dataset=fake", "model=dcgan", "dataset.image_size=64", "dataset.channels=3"]


def equal() -> None:
    """Train the same runs with and without train.cuda_graph; the largest weight difference after them."""

    import os

    from gan_cli import checkpoint
    from gan_cli.train import train
    from tests.conftest import make_cfg

    jobs = {
        "ring mlp, lr schedule": [
            "dataset=ring",
            "model=mlp",
            "optimizer.lr_decay=linear",
            "train.steps=300",
        ],
        "digits default recipe (lazy R1)": ["train.steps=100", "model.ngf=32"],
        "dcgan64 bf16": [
            "dataset=fake",
            "model=dcgan",
            "dataset.image_size=64",
            "train.precision=bf16",
            "train.steps=50",
        ],
    }
    for name, over in jobs.items():
        common = [
            *over,
            f"train.device={os.environ.get('DEVICE', 'cuda')}",
            "train.sample_every=0",
            "train.ckpt_every=0",
            "train.log_every=10",
        ]
        states, summaries = {}, {}
        with tempfile.TemporaryDirectory() as tmp:
            for graph in (False, True):
                run = Path(tmp) / str(graph)
                summaries[graph] = train(make_cfg([*common, f"train.cuda_graph={str(graph).lower()}"]), run)
                states[graph] = checkpoint.load(run / "checkpoints" / "last.pt")
        diff, scale = 0.0, 0.0
        for net in ("G", "D"):
            for k, a in states[False][net].items():
                if a.is_floating_point():
                    diff = max(diff, (a - states[True][net][k]).abs().max().item())
                    scale = max(scale, a.abs().max().item())
        print(
            json.dumps(
                {
                    "what": f"graph against plain steps: {name}",
                    "graph_used": summaries[True]["cuda_graph"],
                    "max_abs_weight_diff": diff,
                    "max_abs_weight": scale,
                    "loss_D": [summaries[False]["loss_D"], summaries[True]["loss_D"]],
                    "img_s": [
                        round(summaries[False]["images_per_sec"]),
                        round(summaries[True]["images_per_sec"]),
                    ],
                }
            )
        )


if __name__ == "__main__":
    if sys.argv[1] == "summary":
        summary(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    else:
        equal()
