"""Is memory flat over a long run? Samples gan-train's resident memory (RSS) once a second.

    python -m benchmarks.memory                                   # the default job in bf16, 10,000 steps
    python -m benchmarks.memory -- dataset=fake model=dcgan ...   # any gan-train overrides

Prints RSS against the training step (read from the run's log lines) and the growth from the end of the
first tenth of the run to its last step; writes the samples to benchmarks/memory.json. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT = ["train.precision=bf16", "train.steps=10000", "train.log_every=100", "train.sample_every=0"]


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="gan-train overrides (default: %(default)s)")
    parser.add_argument("--out", default="benchmarks/memory.json")
    args = parser.parse_args()
    overrides = args.overrides or DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.out"
        cmd = [str(Path(sys.executable).parent / "gan-train"), *overrides, f"hydra.run.dir={tmp}/run"]
        with log.open("w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            samples = []
            while proc.poll() is None:
                steps = re.findall(r"step (\d+)/\d+ ", log.read_text())
                mem = rss_mb(proc.pid)
                if mem is not None:
                    samples.append({"step": int(steps[-1]) if steps else 0, "rss_mb": mem})
                time.sleep(1.0)
        if proc.returncode != 0:
            sys.exit(f"gan-train failed:\n{log.read_text()[-2000:]}")
    total = max(s["step"] for s in samples)
    # training: from the first tenth to the first sample at the last step (what follows it is the final
    # sample grid and checkpoint, reported as the peak)
    end = next(i for i, s in enumerate(samples) if s["step"] == total)
    after_warmup = [s for s in samples[: end + 1] if s["step"] >= total / 10]
    first, last = after_warmup[0]["rss_mb"], after_warmup[-1]["rss_mb"]
    peak = max(s["rss_mb"] for s in samples)
    print(f"gan-train {' '.join(overrides)}")
    for frac in (0.1, 0.25, 0.5, 0.75, 1.0):
        s = min(after_warmup, key=lambda s: abs(s["step"] - frac * total))
        print(f"  step {s['step']:>6}: {s['rss_mb']:7.0f} MB")
    print(
        f"from step {after_warmup[0]['step']} to {after_warmup[-1]['step']}: {first:.0f} -> {last:.0f} MB "
        f"({last - first:+.0f} MB), peak {peak:.0f} MB"
    )
    Path(args.out).write_text(json.dumps({"overrides": overrides, "samples": samples}, indent=1) + "\n")


if __name__ == "__main__":
    main()
