"""The training engine: set-up (setup.py), the step (step.py), the loop (loop.py), the step as a CUDA graph
(graphs.py), data-parallel ranks (distributed.py), resume (resume.py).
The commands call `train`; nothing here imports a command."""

from __future__ import annotations

from gan_cli.engine.loop import train, train_rank

__all__ = ["train", "train_rank"]
