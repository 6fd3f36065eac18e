"""engine/graphs.py, train.cuda_graph: the step captured once and replayed.

No GPU here, so the CUDA backend is replaced by one with a CUDA graph's semantics on the CPU: capturing
records the step without changing anything (the training state is put back as it was, as a capture runs
no kernel), and a replay runs the recorded step again on the static input buffers, writing into the
captured outputs. What is tested is everything around the capture: static inputs refilled every step,
one graph per key (a lazy penalty due or not), warm-up, eviction, the learning rate on the device under a
schedule, the fallbacks and their reasons, and that the result equals plain steps exactly.
"""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import pytest
import torch

from gan_cli import checkpoint
from gan_cli.engine import graphs, loop
from gan_cli.optim import load_optimizer, make_capturable
from gan_cli.train import train
from tests.helpers import FAST, RING, SMALL_DCGAN, make_cfg


class Emulated:
    """A CUDA graph's capture and replay, emulated on the CPU."""

    device_side = False  # capturable Adam is CUDA-only; the learning rate still moves to a tensor

    def __init__(self, run) -> None:
        self.run, self.captures, self.replays, self.fail = run, 0, 0, False

    def warmup(self, fn):
        return fn()

    def capture(self, fn):
        if self.fail:
            raise RuntimeError("operation not permitted when stream is capturing")
        run = self.run
        saved = copy.deepcopy(run.state_dict(0, {}))
        outputs = fn()  # records the step; then everything goes back as it was
        run.load_state_dict(saved)
        for opt in (run.opt_g, run.opt_d):
            make_capturable(opt, run.device, capturable=False)
        # a real graph reads the tensors it captured, by address: the learning rates must stay those objects
        # (a schedule fills them in place), or a replay would read a value nobody updates any more
        frozen = [(g, g["lr"]) for opt in (run.opt_g, run.opt_d) for g in opt.param_groups]
        self.captures += 1
        return (fn, outputs, frozen), outputs

    def replay(self, graph) -> None:
        fn, (stats, _), frozen = graph
        for group, lr in frozen:
            assert isinstance(lr, torch.Tensor) and group["lr"] is lr, (
                "a captured learning rate was replaced instead of filled in place: a CUDA graph would "
                "replay with the value it captured"
            )
        new, _ = fn()
        for name, value in new.items():
            stats[name].copy_(value)
        self.replays += 1


@pytest.fixture
def emulated(monkeypatch):
    """train() with the emulated backend; yields the list of backends made."""
    made = []

    def setup(run):
        if not run.cfg.train.cuda_graph:
            return None
        backend = Emulated(run)
        made.append(backend)
        return graphs.StepGraph(run, backend)

    monkeypatch.setattr(loop, "graph_setup", setup)
    return made


# the default job's tricks at a small size: lazy R1 (every 4 D updates: two keys), mode seeking, a
# conditional G and D, EMA; plus a learning-rate schedule the graph must follow on the device
JOB = [*FAST, *SMALL_DCGAN, "train.steps=20", "optimizer.lr_decay=linear", "train.ckpt_every=0"]
# (a resume that asks for more steps stretches the schedule: none here, so that all runs share one)
RESUMABLE = [k for k in JOB if not k.startswith("optimizer.lr_decay")]


def weights(run_dir):
    state = checkpoint.load(run_dir / "checkpoints" / "last.pt")
    return state


def test_replayed_steps_equal_plain_steps(tmp_path, emulated):
    eager = train(make_cfg([*JOB, "train.cuda_graph=false"]), tmp_path / "eager")
    graph = train(make_cfg(JOB), tmp_path / "graph")
    (backend,) = emulated
    assert backend.captures == 2  # R1 due and not due
    # R1 is due at steps 1, 5, 9, ...: warm-ups 1, 5, 9, captured and replayed at 13 and 17; not due:
    # warm-ups 2, 3, 4, then 12 replays from step 6 (the step a graph is captured at replays too)
    assert backend.replays == 2 + 12
    a, b = weights(tmp_path / "eager"), weights(tmp_path / "graph")
    # equal but for the learning rate: a float32 tensor on the device against a Python float
    for net in ("G", "D", "G_ema"):
        for name, tensor in a[net].items():
            torch.testing.assert_close(b[net][name], tensor, rtol=1e-4, atol=1e-5, msg=f"{net}.{name}")
    assert a["opt_d"]["param_groups"][0]["lr"] == pytest.approx(float(b["opt_d"]["param_groups"][0]["lr"]))
    for key in ("loss_D", "loss_G", "D_real", "D_fake"):
        assert eager[key] == pytest.approx(graph[key], rel=1e-3, abs=1e-4)


def test_a_graph_run_resumes_on_plain_steps_and_the_reverse(tmp_path, emulated):
    """The checkpoint of a graph run (learning rate saved as a tensor) resumes without graphs, and a plain
    run's with them, to the same weights as an uninterrupted plain run."""
    whole = tmp_path / "whole"
    train(make_cfg([*RESUMABLE, "train.cuda_graph=false"]), whole)
    first = tmp_path / "first"
    train(make_cfg([*RESUMABLE, "train.steps=10"]), first)  # graph
    over = ["train.steps=20", "train.cuda_graph=false"]
    train(make_cfg([f"resume={first}", *over]), tmp_path / "x", over)
    second = tmp_path / "second"
    train(make_cfg([*RESUMABLE, "train.steps=10", "train.cuda_graph=false"]), second)
    train(make_cfg([f"resume={second}", "train.steps=20"]), tmp_path / "y", ["train.steps=20"])  # graph
    a = weights(whole)
    for run in (first, second):
        b = weights(run)
        for name, tensor in a["G"].items():
            torch.testing.assert_close(b["G"][name], tensor, rtol=1e-4, atol=1e-5, msg=f"{run.name} {name}")


def test_a_key_new_every_step_is_never_captured(tmp_path, emulated):
    """Instance noise's std falls every step until train.instance_noise_until: those steps run plainly;
    once it is 0 the step is captured."""
    cfg = make_cfg(
        [*FAST, *RING, "train.steps=30", "train.instance_noise=0.1", "train.instance_noise_until=0.5"]
    )
    train(cfg, tmp_path / "run")
    (backend,) = emulated
    assert backend.captures == 1
    assert backend.replays == 30 - 15 - graphs.WARMUP


def test_at_most_max_graphs_are_kept(tmp_path, emulated, monkeypatch):
    monkeypatch.setattr(graphs, "WARMUP", 0)
    cfg = make_cfg([*FAST, *RING, "train.steps=12", "loss.topk=0.2"])  # top-k's count falls every step
    train(cfg, tmp_path / "run")
    (backend,) = emulated
    assert backend.captures == 6  # top-k keeps 14, 12, 10, 8, 6, then 4 of 16
    assert len(backend.run.graph.graphs) == graphs.MAX_GRAPHS


def test_a_batch_of_another_shape_runs_plainly_and_says_so(tmp_path, emulated, monkeypatch, caplog):
    from gan_cli.engine import step as step_module

    original, calls = step_module.draw_data, [0]

    def ragged(run):
        real, labels = original(run)
        calls[0] += 1
        return (real[:-1], labels) if calls[0] % 7 == 0 else (real, labels)  # from step 7 on: captured

    monkeypatch.setattr(step_module, "draw_data", ragged)
    with caplog.at_level(logging.INFO, logger="gan_cli.train"):
        summary = train(make_cfg([*FAST, *RING, "train.steps=20"]), tmp_path / "run")
    assert summary["status"] == "completed"
    assert "a batch of another shape" in caplog.text


def test_a_failed_capture_falls_back_with_the_reason(tmp_path, emulated, monkeypatch, caplog):
    original = graphs.StepGraph.__init__

    def failing(self, run, backend):
        backend.fail = True
        original(self, run, backend)

    monkeypatch.setattr(graphs.StepGraph, "__init__", failing)
    with caplog.at_level(logging.WARNING, logger="gan_cli.train"):
        summary = train(make_cfg([*FAST, *RING, "train.steps=10"]), tmp_path / "run")
    assert summary["status"] == "completed" and summary["cuda_graph"] is False
    assert "capturing the step failed (RuntimeError: operation not permitted" in caplog.text


def fake_run(**changes):
    cfg = make_cfg([*FAST, *RING, *changes.pop("overrides", [])])
    run = SimpleNamespace(
        cfg=cfg,
        device=torch.device("cuda"),
        d=SimpleNamespace(active=False),
        precision=SimpleNamespace(name="fp32"),
    )
    for key, value in changes.items():
        setattr(run, key, value)
    return run


def test_the_reasons_a_graph_cannot_apply():
    assert graphs.why_not(fake_run()) is None
    assert "CUDA device" in graphs.why_not(fake_run(device=torch.device("cpu")))
    assert "DDP" in graphs.why_not(fake_run(d=SimpleNamespace(active=True)))
    assert "fp16" in graphs.why_not(fake_run(precision=SimpleNamespace(name="fp16")))
    assert "optimizer=sgd" in graphs.why_not(fake_run(overrides=["optimizer=sgd"]))
    assert graphs.why_not(fake_run(overrides=["train.compile=reduce-overhead"])) is None  # its kernels


def test_on_a_cpu_the_graph_is_off_and_the_summary_says_so(tmp_path):
    summary = train(make_cfg([*FAST, *RING, "train.steps=2"]), tmp_path / "run")
    assert summary["cuda_graph"] is False


def test_an_optimizer_state_from_a_fused_capturable_cuda_run_loads_on_a_cpu():
    """What a CUDA run saves (fused, capturable, the learning rate a device tensor) loads into this
    process's plain Adam, which then steps exactly as if it had made the state itself."""
    torch.manual_seed(0)
    p_cuda, p_here = (torch.nn.Parameter(torch.randn(5)) for _ in range(2))
    p_here.data.copy_(p_cuda.data)
    made = torch.optim.Adam([p_cuda], lr=1e-2, fused=True)
    plain = torch.optim.Adam([copy.deepcopy(p_cuda)], lr=1e-2)
    for opt in (made, plain):
        opt.param_groups[0]["params"][0].grad = torch.ones(5)
        opt.step()
    state = made.state_dict()
    state["param_groups"][0]["capturable"] = True
    state["param_groups"][0]["lr"] = torch.tensor(1e-2)
    here = torch.optim.Adam([p_here], lr=1e-2)
    p_here.data.copy_(made.param_groups[0]["params"][0].data)
    load_optimizer(here, state)
    group = here.param_groups[0]
    assert group["fused"] is None and group["capturable"] is False and isinstance(group["lr"], float)
    assert here.state[p_here]["step"].device.type == "cpu"
    p_here.grad = torch.ones(5)
    here.step()
    plain.param_groups[0]["params"][0].grad = torch.ones(5)
    plain.step()
    torch.testing.assert_close(p_here.data, plain.param_groups[0]["params"][0].data)
