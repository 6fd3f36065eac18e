"""Checkpoints: everything a resume needs, written atomically, read back with weights_only=True."""

from __future__ import annotations

import os
import pickle
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from gan_cli.errors import UserError
from gan_cli.optim import load_optimizer


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and Python RNG states, as tensors and plain containers."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos)},
        "numpy_gauss": [int(has_gauss), float(cached)],
        "python": random.getstate(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    has_gauss, cached = state["numpy_gauss"]
    keys = np_state["keys"].numpy().astype(np.uint32)
    np.random.set_state((np_state["kind"], keys, np_state["pos"], has_gauss, cached))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save(state: dict[str, Any], path: str | Path) -> None:
    """Write `state` to `path` so that a crash at any instant leaves either the old or the new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint with weights_only=True: files carrying pickled code are refused, never run."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # any failure to parse the file is the file's fault, whatever torch raises
        text = str(err).strip()
        first_line = text.splitlines()[0] if text else type(err).__name__
        if isinstance(err, pickle.UnpicklingError) and "weights only load failed" in text.lower():
            raise UserError(
                f"checkpoint {path} was refused: it holds objects other than tensors and plain data, so "
                f"torch.load(weights_only=True) did not load it and nothing in it was run ({first_line})."
            ) from None
        raise UserError(
            f"checkpoint {path} is truncated or corrupt and cannot be loaded ({first_line}). "
            "Use another checkpoint from the same folder (checkpoints/step_*.pt), or start a new run."
        ) from None
    if not isinstance(state, dict) or not isinstance(state.get("step"), int):
        raise UserError(f"checkpoint {path} is not a gan-cli checkpoint (no integer 'step').")
    return state


def requeued(run_dir: str | Path) -> bool:
    """Whether this is a job submitit started again (time-out, preemption) in a folder holding its run."""
    under_submitit = any(k in os.environ for k in ("SUBMITIT_EXECUTOR", "SUBMITIT_LOCAL_JOB_ID"))
    return under_submitit and (Path(run_dir) / "checkpoints" / "last.pt").is_file()


def refuse_existing_run(run_dir: Path) -> None:
    """A new run never writes into a folder that already holds one (its checkpoint says so)."""
    last = Path(run_dir) / "checkpoints" / "last.pt"
    if last.exists():
        raise UserError(
            f"{run_dir} already holds a run ({last} exists); refusing to overwrite it. Continue it with "
            f"resume={run_dir}, or start the new run in another folder (hydra.run.dir=...)."
        )


def save_rotating(state: dict[str, Any], ckpt_dir: Path, keep: int) -> Path:
    """Write step_NNNNNN.pt and point last.pt at it (atomically); keep the newest `keep` step files."""
    last = ckpt_dir / "last.pt"
    try:
        if keep == 0:
            save(state, last)
            return last
        step_file = ckpt_dir / f"step_{state['step']:06d}.pt"
        save(state, step_file)
        tmp = ckpt_dir / f".last.pt.{os.getpid()}.link"
        tmp.unlink(missing_ok=True)
        try:
            os.link(step_file, tmp)  # same bytes, no second write
        except OSError:
            shutil.copyfile(step_file, tmp)
        os.replace(tmp, last)
    except OSError as err:
        raise UserError(
            f"cannot write checkpoint in {ckpt_dir}: {err}. The previous checkpoint, if any, is untouched; "
            "free some space (or fix the folder's permissions) and resume the run."
        ) from None
    for old in sorted(ckpt_dir.glob("step_*.pt"))[:-keep]:
        old.unlink(missing_ok=True)
    return last


def remove_stale_temporaries(ckpt_dir: Path) -> None:
    """Temporary files a killed process left behind (the checkpoints themselves are never partial)."""
    for tmp in list(ckpt_dir.glob(".*.tmp")) + list(ckpt_dir.glob(".last.pt.*.link")):
        tmp.unlink(missing_ok=True)


@dataclass
class Training:
    """Everything that evolves during training, saved and restored as one."""

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    data: Any  # a Sampler
    z_fixed: torch.Tensor
    precision: Any = None  # a precision.Precision (its fp16 gradient scalers)

    def state_dict(self, step: int, config: dict) -> dict[str, Any]:
        """Tensors and plain containers only, so the file loads with weights_only=True."""
        return {
            "step": int(step),
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "data": self.data.state_dict(),
            "data_kind": self.data.kind,
            "data_shape": list(self.data.shape),
            "z_fixed": self.z_fixed.cpu(),
            "scalers": self.precision.state_dict() if self.precision is not None else None,
            # tricks with a state of their own (ADA's p); Run holds the tricks
            "tricks": {t.name: t.state_dict() for t in getattr(self, "tricks", []) if t.state_dict()},
            "rng": rng_state(),
            "config": config,
            "version": 1,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore every piece, the RNG states last (building the components consumed random numbers)."""
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"] if state["G_ema"] is not None else state["G"])
        load_optimizer(self.opt_g, state["opt_g"])  # from any device: this process's kernels
        load_optimizer(self.opt_d, state["opt_d"])
        self.data.load_state_dict(state["data"])
        self.z_fixed = state["z_fixed"].to(self.z_fixed.device)
        if self.precision is not None and state.get("scalers"):
            self.precision.load_state_dict(state["scalers"])
        for trick in getattr(self, "tricks", []):
            if trick.name in state.get("tricks", {}):
                trick.load_state_dict(state["tricks"][trick.name])
        set_rng_state(state["rng"])
