"""What a training trick is: a piece with hooks that the step calls at fixed points.

The step (gan_cli/engine/step.py) never names a trick. It draws a batch and z, calls every active trick's
`before_d`, generates, shows D what `view` makes of each input, and adds the loss terms that `d_terms`
and `g_terms` return; `g_logits` may filter the logits G learns from. Network tricks put wrappers around G
and D when the networks are built (`g_input`, `wrap`, used by gan-sample and gan-eval too) and may read
the data once before training (`prepare`). Every default leaves things as they are.

A trick registers a builder `builder(cfg, loss) -> Trick | None` (None when its keys leave it off); the
order of the imports in gan_cli/tricks/__init__.py is the order the hooks run in.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, NamedTuple

from torch import Tensor, nn

from gan_cli.nets import DOut
from gan_cli.registry import Registry

TRICKS = Registry("trick")


class Term(NamedTuple):
    """A trick's part of a loss: `loss` is added to the network's loss (None: logged only), `value` is
    what TensorBoard shows under the term's name."""

    loss: Tensor | None
    value: Tensor


@dataclass
class Batch:
    """What one update works on; tricks read it and may set z and the labels D judges with."""

    step: int  # the G update, from 1
    d_update: int  # the D update, counted from 0 over the whole run (lazy penalties)
    real: Tensor  # [N, ...] this process's shard of the real batch
    real_labels: Tensor | None  # the data's class labels [N], when it has them
    z: Tensor  # [N, nz]: G's input
    y_real: Tensor | None = None  # labels D judges real samples with (a conditional D), else None
    y_fake: Tensor | None = None
    fake: Tensor | None = None  # G(z)
    real_in: Tensor | None = None  # what D saw (after `view`)
    fake_in: Tensor | None = None
    real_out: DOut | None = None  # D's verdicts
    fake_out: DOut | None = None


class Trick:
    """A training trick. Subclasses override the hooks they need."""

    name = "trick"

    # -- building the networks (training, gan-sample, gan-eval)
    def g_input(self, nz: int) -> int:
        """The width of G's input for a latent z of nz coordinates."""
        return nz

    def wrap(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        """Wrappers around the architecture's networks."""
        return G, D

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        """Once before training, with the data (a conditional G learns the class shares here)."""

    # -- every step
    def before_d(self, b: Batch) -> None:
        """Before G generates for a D update: may change b.z and set b.y_real / b.y_fake."""

    def view(self, x: Tensor, step: int) -> Tensor:
        """What D sees of an input x (real or generated), in D's updates and in G's."""
        return x

    def d_terms(self, b: Batch, run: Any) -> dict[str, Term]:
        """Terms added to D's loss (b holds this update's inputs and D's verdicts)."""
        return {}

    def g_logits(self, fake_logits: Tensor, step: int, steps: int) -> Tensor:
        """The logits of G's samples that G's loss reads."""
        return fake_logits

    def g_terms(self, b: Batch, run: Any) -> dict[str, Term]:
        """Terms added to G's loss (b.fake_out: D's verdicts in G's update)."""
        return {}

    # -- a trick's own state (ADA's p): saved in checkpoints under its name, restored on resume
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what state_dict() returned."""

    # -- a step captured as a CUDA graph (train.cuda_graph)
    def graph_key(self, step: int, d_updates: range, cfg: Any) -> Hashable:
        """The plain Python values the hooks above take from the step number (a penalty due or not, an
        annealed fraction). A captured graph replays them frozen, so each distinct key gets its own graph;
        None: the hooks do the same at every step."""
        return None
