"""Data-parallel training with torch.distributed: `train.world_size=N` makes gan-train start N processes
itself (gloo on CPU, NCCL on CUDA), or gan-train runs as one rank of a `torchrun` launch or of a SLURM job
with several tasks (across nodes).

Every rank builds the same networks from the same seed, wraps them in DistributedDataParallel (gradients
are averaged across ranks), draws the same global batch of real data and trains on its own shard of it,
with its own latent noise. Rank 0 alone writes TensorBoard, checkpoints, samples and summary.json.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from omegaconf import OmegaConf
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from gan_cli import schema
from gan_cli.errors import UserError, report

log = logging.getLogger("gan_cli.train")


@dataclass
class Dist:
    """This process's place in the group (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    spawned: bool = False  # started by gan-train itself: the parent relays signals as SIGTERM

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def mean_(self, t: torch.Tensor) -> torch.Tensor:
        """Average a tensor over the ranks, in place."""
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t /= self.world
        return t

    def any(self, flag: bool, device: torch.device) -> bool:
        """True on every rank when it is true on any rank (stops and divergence are decided together)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's obj, in rank order, on every rank."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's value of obj on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def ddp_kwargs(device: torch.device) -> dict[str, Any]:
    """DistributedDataParallel options: no buffer broadcast at each forward (D runs several times per
    step), under the name this torch version uses."""
    kw: dict[str, Any] = {"device_ids": [device.index] if device.type == "cuda" else None}
    params = inspect.signature(DDP.__init__).parameters
    kw["forward_sync_buffers" if "forward_sync_buffers" in params else "broadcast_buffers"] = False
    return kw


def average_batch_norm_stats(d: Dist, *modules: torch.nn.Module | None) -> None:
    """Batch-norm running statistics averaged over the ranks, in place, on every rank (a collective).

    Each rank normalises its own shard, so between checkpoints each gathers statistics of its shard alone;
    averaged before a checkpoint, the saved networks hold statistics of every rank's data and every rank
    holds the same networks (a resume then starts all ranks from one state)."""
    for m in modules:
        for bn in () if m is None else m.modules():
            if isinstance(bn, nn.modules.batchnorm._BatchNorm) and bn.track_running_stats:
                for buf in (bn.running_mean, bn.running_var):
                    if buf is not None:
                        d.mean_(buf)


def fingerprint(*modules: torch.nn.Module) -> str:
    """sha256 of every parameter's and buffer's bytes (batch-norm statistics, spectral norm's vectors):
    equal on all ranks when data parallelism kept the networks in sync."""
    h = hashlib.sha256()
    for m in modules:
        for t in (*m.parameters(), *m.buffers()):
            h.update(t.detach().float().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def torchrun_env() -> Dist | None:
    """The group torchrun (or any launcher setting RANK, WORLD_SIZE, LOCAL_RANK) put this process in."""
    if "RANK" in os.environ and "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return Dist(
            int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
        )
    return None


def slurm_env() -> Dist | None:
    """The group a SLURM job with several tasks puts this process in (`srun`, or the submitit launcher
    with hydra.launcher.nodes / tasks_per_node): rank, world size and local rank from SLURM_PROCID,
    SLURM_NTASKS and SLURM_LOCALID, and the rendezvous (MASTER_ADDR: the job's first node; MASTER_PORT:
    drawn from the job id, the same on every task, unless set) exported for torch's env:// by submitit's
    own TorchDistributedEnvironment. None outside SLURM or with one task."""
    if int(os.environ.get("SLURM_NTASKS", "1")) <= 1 or "SLURM_PROCID" not in os.environ:
        return None
    try:
        from submitit.helpers import TorchDistributedEnvironment
        from submitit.slurm.slurm import SlurmJobEnvironment
    except ImportError:
        raise UserError(
            f"this SLURM job has {os.environ['SLURM_NTASKS']} tasks, one training across them needs submitit "
            "to read the job's nodes: pip install 'gan-cli[sweep]' (or run one task per job)."
        ) from None
    env = TorchDistributedEnvironment.__new__(TorchDistributedEnvironment)
    env._job_env = SlurmJobEnvironment()  # SLURM's variables, whichever launcher started the tasks
    env.master_addr = env._job_env.hostnames[0]
    env.master_port = env._get_master_port()
    env.rank, env.world_size = env._job_env.global_rank, env._job_env.num_tasks
    env.local_rank = env._job_env.local_rank
    env.local_world_size = env.world_size // max(env._job_env.num_nodes, 1)
    env.export(set_cuda_visible_devices=False, overwrite=True)  # (a task may see all its node's GPUs)
    return Dist(env.rank, env.world_size, env.local_rank)


def init(d: Dist, device_type: str) -> None:
    """Join the process group (env:// rendezvous: MASTER_ADDR and MASTER_PORT are set)."""
    if device_type == "cuda":
        torch.cuda.set_device(d.local_rank)
    backend = "nccl" if device_type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=d.rank, world_size=d.world)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(
    rank: int,
    train: Callable[..., Any],
    world: int,
    port: int,
    device_type: str,
    cfg: dict,
    out_dir: str,
    overrides: list,
) -> None:
    """One spawned rank: join the group and run `train` (the engine's train()) as that rank."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which relays a SIGTERM
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    schema.register_schemas()
    d = Dist(rank, world, rank, spawned=True)
    setup_rank_logging(d, Path(out_dir))
    init(d, device_type)
    try:
        train(OmegaConf.create(cfg), out_dir, overrides, dist_info=d)
    except UserError as err:
        report(f"gan-train (rank {rank})", err)
        sys.exit(2)
    finally:
        dist.destroy_process_group()


def spawn(
    train: Callable[..., Any], world: int, device_type: str, cfg: dict, out_dir: Path, overrides: list[str]
) -> int | None:
    """Run `world` ranks of `train` (a module-level function: it is pickled by name) in child processes
    and wait for them. SIGINT/SIGTERM sent to this
    process are passed on to every rank (they stop together after a checkpoint); returns that signal."""
    port = free_port()
    ctx = mp.start_processes(
        _worker,
        args=(train, world, port, device_type, cfg, str(out_dir), overrides),
        nprocs=world,
        join=False,
        start_method="spawn",
    )
    received: list[int] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signum)
        for p in ctx.processes:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            try:
                if ctx.join():
                    break
            except mp.ProcessRaisedException as err:
                raise RuntimeError(f"a training rank failed:\n{err}") from None
            except mp.ProcessExitedException as err:
                raise UserError(
                    f"training rank {err.error_index} of {world} stopped with exit code {err.exit_code} "
                    "(its message is above); the other ranks were stopped."
                ) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.stdout.flush()
    return received[0] if received else None


def setup_rank_logging(d: Dist, out_dir: Path) -> None:
    """Spawned ranks have no Hydra logging: rank 0 logs to the console and train.log, the others warn only."""
    fmt = logging.Formatter(f"[%(asctime)s][%(name)s][%(levelname)s][rank {d.rank}] - %(message)s")
    root = logging.getLogger()
    root.setLevel(logging.INFO if d.main else logging.WARNING)
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    root.addHandler(console)
    if d.main:
        file = logging.FileHandler(out_dir / "train.log")
        file.setFormatter(fmt)
        root.addHandler(file)
