"""train.cuda_graph: the whole step (D's and G's updates, optimizer steps included) captured as a CUDA
graph and replayed, one launch instead of hundreds.

Small workloads on a GPU wait on kernel launches, not on math: the ring8 MLPs take 7.4 ms a step on an
H200 for microseconds of arithmetic. A graph records the step's kernels once and replays them:

- A step is captured after WARMUP eager steps with the same key (cuDNN's autotuning and the optimizers'
  state happen there), on a side stream as CUDA requires.
- The real batch and labels are copied into static buffers before each replay; the latents and every other
  random number are drawn inside the graph from CUDA's generator, which each replay advances as the eager
  step would. The statistics are the graph's static outputs, read (summed) before the next replay.
- Plain Python values the tricks take from the step number (a lazy penalty due or not, top-k's count,
  instance noise's std) are frozen into a graph, so each distinct `Trick.graph_key` gets its own; at
  most MAX_GRAPHS are kept (least recently used dropped). A key that changes every step (instance noise
  while it anneals) never warms up: those steps run eagerly.
- The learning rate lives on the device (a schedule refills it) and Adam keeps its step count there
  (`capturable`): what the captured optimizer step reads.
- G's weight average runs after the replay, eagerly (its decay changes every step early on).

Where a graph cannot apply, the step runs as it comes, and the reason is logged once: not CUDA, data
parallel (DDP), fp16 (its loss scaling reads the scale on the host), an optimizer other than Adam, a
batch of another shape, or a capture that failed. With train.compile the graph replays inductor's kernels
(reduce-overhead then leaves its own per-module graphs out: engine/setup.compile_models).
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import torch
from torch import Tensor

from gan_cli.engine.setup import Run
from gan_cli.engine.step import Data, updates
from gan_cli.optim import make_capturable

log = logging.getLogger("gan_cli.train")

WARMUP = 3  # eager steps of a key before it is captured (the PyTorch docs' whole-network example: 3)
MAX_GRAPHS = 4  # graphs kept at once: lazy R1 needs 2 (due or not)


class CudaGraphs:
    """Capture and replay with torch.cuda.CUDAGraph."""

    device_side = True  # Adam's step counts on the device (capturable)

    def __init__(self) -> None:
        self.side = torch.cuda.Stream()

    def warmup(self, fn: Callable[[], Any]) -> Any:
        self.side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(self.side):
            out = fn()
        torch.cuda.current_stream().wait_stream(self.side)
        return out

    def capture(self, fn: Callable[[], Any]) -> tuple[Any, Any]:
        """(graph, fn's outputs as static tensors); the kernels are recorded, not run."""
        graph = torch.cuda.CUDAGraph()
        # thread_local: the data's prefetch thread (streamed image folders) may copy to the GPU meanwhile
        with torch.cuda.graph(graph, capture_error_mode="thread_local"):
            out = fn()
        return graph, out

    def replay(self, graph: Any) -> None:
        graph.replay()


class StepGraph:
    """run.graph: called as the step's updates, `(run, step, data) -> (statistics, applied)`."""

    def __init__(self, run: Run, backend: Any) -> None:
        self.run, self.backend = run, backend
        self.graphs: OrderedDict[Hashable, Captured] = OrderedDict()
        self.seen: Counter[Hashable] = Counter()
        self.off: str | None = None  # why graphs stopped, once they have
        self.noted: set[str] = set()
        run.precision.cache = False  # autocast's weight cache cannot outlive a capture
        for opt in (run.opt_g, run.opt_d):
            make_capturable(opt, run.device, capturable=backend.device_side)

    def __call__(self, run: Run, step: int, data: Data) -> tuple[dict[str, Tensor], bool]:
        if self.off is not None:
            return updates(run, step, data)
        key = self.key(step)
        graph = self.graphs.get(key)
        if graph is None:
            if len(self.seen) > 10_000:  # an annealed key, new every step: forget the old ones
                self.seen.clear()
            self.seen[key] += 1
            if self.seen[key] <= WARMUP:
                return self.backend.warmup(lambda: updates(run, step, data))
            graph = self.capture(key, step, data)
            if graph is None:
                return updates(run, step, data)
        elif not graph.fits(data):
            self.note(f"a batch of another shape than the captured {graph.shapes} at step {step}")
            return updates(run, step, data)
        self.graphs.move_to_end(key)
        graph.fill(data)
        self.backend.replay(graph.graph)
        return graph.outputs

    def key(self, step: int) -> tuple:
        d_steps = self.run.cfg.train.d_steps
        d_updates = range((step - 1) * d_steps, step * d_steps)
        return tuple(trick.graph_key(step, d_updates, self.run.cfg) for trick in self.run.tricks)

    def capture(self, key: Hashable, step: int, data: Data) -> Captured | None:
        run = self.run
        static = [(real.clone(), None if labels is None else labels.clone()) for real, labels in data]
        for opt in (run.opt_g, run.opt_d):  # the gradients get allocated inside the graph's memory
            opt.zero_grad(set_to_none=True)
        try:
            graph, outputs = self.backend.capture(lambda: updates(run, step, static))
        except Exception as err:  # noqa: BLE001 - any failure: train on without graphs, and say why
            self.stop(f"capturing the step failed ({type(err).__name__}: {str(err).splitlines()[0]})")
            return None
        if len(self.graphs) >= MAX_GRAPHS:
            self.graphs.popitem(last=False)
        self.graphs[key] = captured = Captured(graph, static, outputs)
        log.debug("train.cuda_graph: captured the step at step %d (key %s)", step, key)
        return captured

    def note(self, reason: str) -> None:
        if reason not in self.noted:
            self.noted.add(reason)
            log.info("train.cuda_graph: this step runs without the graph: %s", reason)

    def stop(self, reason: str) -> None:
        self.off, self.graphs = reason, OrderedDict()
        for opt in (self.run.opt_g, self.run.opt_d):  # no gradient left in a graph's memory
            opt.zero_grad(set_to_none=True)
        log.warning("train.cuda_graph: off from here on: %s; training continues without it", reason)


class Captured:
    """One captured step: its graph, its static inputs and its static outputs."""

    def __init__(self, graph: Any, static: Data, outputs: tuple[dict[str, Tensor], bool]) -> None:
        self.graph, self.static, self.outputs = graph, static, outputs
        self.shapes = [(tuple(r.shape), None if y is None else tuple(y.shape)) for r, y in static]

    def fits(self, data: Data) -> bool:
        return [(tuple(r.shape), None if y is None else tuple(y.shape)) for r, y in data] == self.shapes

    def fill(self, data: Data) -> None:
        for (real, labels), (s_real, s_labels) in zip(data, self.static, strict=True):
            s_real.copy_(real, non_blocking=True)
            if s_labels is not None:
                s_labels.copy_(labels, non_blocking=True)


def why_not(run: Run) -> str | None:
    """Why the step cannot be captured in this run (None: it can)."""
    if run.device.type != "cuda":
        return "CUDA graphs need a CUDA device"
    if run.d.active:
        return "data parallel (DDP) synchronises gradients across processes outside any graph"
    if run.precision.name == "fp16":
        return "fp16's loss scaling reads its scale on the host every step (bf16 or fp32 need none)"
    if run.cfg.optimizer.name != "adam":
        return f"optimizer={run.cfg.optimizer.name}: only Adam's step is captured (step counts on the device)"
    return None


def setup(run: Run) -> StepGraph | None:
    """run.graph for train.cuda_graph (None: plain steps, with the reason logged where it matters)."""
    if not run.cfg.train.cuda_graph:
        return None
    reason = why_not(run)
    if reason is not None:
        if run.device.type == "cuda" and run.d.main:
            log.info("train.cuda_graph: not used: %s", reason)
        return None
    return StepGraph(run, CudaGraphs())
