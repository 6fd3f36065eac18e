"""engine/distributed.py: data-parallel ranks (gloo) stay identical, stop together, run under torchrun."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.errors import ConfigError
from gan_cli.train import train
from tests.helpers import (
    BIN,
    ENDLESS,
    RING_CPU,
    SMALL_DCGAN,
    make_cfg,
    read_summary,
    run_cli,
    start,
    wait_for_step,
)

CADENCE = ["train.log_every=5", "train.sample_every=0", "train.ckpt_every=10"]


@pytest.mark.slow
def test_two_gloo_ranks_stay_identical_and_the_checkpoint_resumes(tmp_path):
    run = tmp_path / "run"
    proc = run_cli(
        ["gan-train", *RING_CPU, *CADENCE, "train.steps=20", "train.world_size=2", f"hydra.run.dir={run}"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = read_summary(run)
    assert summary["status"] == "completed" and summary["world_size"] == 2
    a, b = summary["rank_weights_sha256"]
    assert a == b  # the same G and D on both ranks, bit for bit
    assert "rank 0" in (run / "train.log").read_text()
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # rank 0 alone writes TensorBoard
    ckpt = checkpoint.load(run / "checkpoints" / "last.pt")
    assert ckpt["step"] == 20 and ckpt["config"]["train"]["world_size"] == 2
    # resume under DDP, then once more on a single process: the checkpoint is the same format
    proc = run_cli(["gan-train", f"resume={run}", "train.steps=30"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = read_summary(run)
    assert (
        summary["resumed_from"] == 20
        and summary["step"] == 30
        and len(set(summary["rank_weights_sha256"])) == 1
    )
    proc = run_cli(["gan-train", f"resume={run}", "train.steps=35", "train.world_size=1"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert read_summary(run)["step"] == 35 and read_summary(run)["world_size"] == 1


@pytest.mark.slow
def test_batch_norm_networks_stay_in_sync(tmp_path):
    # the DCGAN has batch norm in G and D; each rank normalises its own shard, gradients are averaged
    run = tmp_path / "img"
    args = [*SMALL_DCGAN, "dataset.image_size=8", "train.device=cpu", "train.batch_size=8", *CADENCE]
    proc = run_cli(
        ["gan-train", *args, "train.steps=6", "train.world_size=2", f"hydra.run.dir={run}"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    summary = read_summary(run)
    # parameters and buffers (batch-norm statistics, averaged over the ranks' shards at each checkpoint)
    assert len(set(summary["rank_weights_sha256"])) == 1


@pytest.mark.slow
def test_batch_must_split_evenly_over_the_ranks(tmp_path):
    with pytest.raises(ConfigError, match="train.batch_size"):
        train(make_cfg([*RING_CPU, "train.world_size=3", "train.batch_size=16"]), tmp_path / "run")


@pytest.mark.slow
def test_sigterm_stops_every_rank_after_a_checkpoint(tmp_path, processes):  # noqa: F811
    run = tmp_path / "run"
    proc = start(
        [*ENDLESS, "train.world_size=2", "train.ckpt_every=5", f"hydra.run.dir={run}"], tmp_path, processes
    )
    wait_for_step(run, 10, proc, timeout=180)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, out
    summary = read_summary(run)
    assert summary["status"] == "interrupted" and summary["signal"] == "SIGTERM"
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == summary["step"]
    assert len(set(summary["rank_weights_sha256"])) == 1


@pytest.mark.slow
def test_under_torchrun(tmp_path):
    run = tmp_path / "run"
    args = [*RING_CPU, *CADENCE, "train.steps=10", f"hydra.run.dir={run}"]
    cmd = [
        str(BIN / "torchrun"),
        "--standalone",
        "--nproc-per-node=2",
        "--no-python",
        str(BIN / "gan-train"),
        *args,
    ]
    import subprocess

    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2 and len(set(summary["rank_weights_sha256"])) == 1
    assert torch.load(run / "checkpoints" / "last.pt", weights_only=True)["step"] == 10


@pytest.mark.slow
def test_one_run_across_the_tasks_of_a_slurm_job(tmp_path):
    """Two local processes given what SLURM gives the tasks of one job (2 tasks on "2 nodes"): they derive
    rank, world size, local rank and the rendezvous from SLURM's variables (submitit's helper), train one
    run in one process group (gloo), and rank 0 alone writes the run folder."""
    import os
    import subprocess

    from gan_cli.engine.distributed import free_port

    run = tmp_path / "run"
    port = str(free_port())
    procs = []
    for rank in range(2):
        env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        env.update(
            SLURM_JOB_ID="4242",
            SLURM_NTASKS="2",
            SLURM_JOB_NUM_NODES="2",
            SLURM_JOB_NODELIST="localhost",
            SLURM_PROCID=str(rank),
            SLURM_NODEID=str(rank),
            SLURM_LOCALID="0",  # one task per node
            MASTER_PORT=port,
        )
        args = [str(BIN / "gan-train"), *RING_CPU, *CADENCE, "train.steps=10", f"hydra.run.dir={run}"]
        procs.append(subprocess.Popen(args, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True))
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs[0][-2000:] + errs[1][-2000:]
    summary = read_summary(run)
    assert summary["world_size"] == 2 and len(set(summary["rank_weights_sha256"])) == 1
    assert checkpoint.load(run / "checkpoints" / "last.pt")["step"] == 10
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # rank 0's alone
