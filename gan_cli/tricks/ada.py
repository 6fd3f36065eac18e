"""Adaptive discriminator augmentation (Karras et al. 2020), train.augment=ada | fixed.

Every image D sees, real or generated, in D's updates and in G's, goes through the `bgc` pipe
(gan_cli/ada.py) with probability p per op; R1 is taken on the augmented real images, as officially (the
penalty reads what D saw). With `ada`, p adapts to D's overfitting: every train.ada_interval steps,
p += sign(r_t - train.ada_target) * batch * interval / (train.ada_kimg * 1000), floored at 0, where
r_t = E[sign(D(real) - m)] over the D updates since the last adjustment (averaged over data-parallel
ranks), m the loss's midpoint between its real and fake targets (the logit's 0 for the log losses).
D that is sure of every real image (r_t near 1) is memorising them: more augmentation. p lives on the
device and is updated there (no host sync), is logged as `augment/p` beside `augment/rt`, and is saved in
checkpoints, so a resume continues exactly. With `fixed`, p stays train.augment_p.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import torch
from torch import Tensor, nn

from gan_cli.ada import AugmentPipe
from gan_cli.errors import ConfigError
from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


class Ada(Trick):
    name = "ada"

    def __init__(
        self,
        adaptive: bool,
        p: float,
        target: float,
        interval: int,
        kimg: float,
        batch: int,
        dataset: str,
        boundary: float = 0.0,
    ) -> None:
        self.adaptive, self.target, self.interval, self.dataset = adaptive, target, interval, dataset
        # r_t = E[sign(D(real) - boundary)]: the logit's sign for the log losses (as officially); LSGAN's
        # targets are 0 and 1, so its outputs are judged against 0.5 (against 0, r_t is always 1)
        self.boundary = boundary
        self.step_size = batch * interval / (kimg * 1000)  # p's change per adjustment
        self.pipe = AugmentPipe()
        self.p = torch.tensor(float(p))
        self.signs = torch.zeros(2)  # [sum of sign(D(real) - boundary), count] since the last adjustment
        self.rt = torch.zeros(())  # the last r_t

    def prepare(self, G: nn.Module, D: nn.Module, data: Any) -> None:
        if data.kind != "image":
            raise ConfigError(
                f"train.augment={'ada' if self.adaptive else 'fixed'} augments images, but "
                f"dataset={self.dataset} gives points. Leave train.augment=none for the 2-D datasets."
            )
        device = next(D.parameters()).device
        self.pipe.to(device)
        self.p, self.signs, self.rt = self.p.to(device), self.signs.to(device), self.rt.to(device)

    def view(self, x: Tensor, step: int) -> Tensor:
        return self.pipe(x, self.p)

    def d_terms(self, b: Batch, run: Any) -> dict[str, Term]:
        if self.adaptive:
            with torch.no_grad():
                logits = b.real_out.logits.detach().float() - self.boundary
                self.signs += torch.stack([logits.sign().sum(), logits.new_tensor(float(logits.numel()))])
        return {}

    def g_terms(self, b: Batch, run: Any) -> dict[str, Term]:
        """After the step's augmentations: adjust p when due, and report p and r_t."""
        if self.adaptive and b.step % self.interval == 0:
            with torch.no_grad():
                rt = self.signs[0] / self.signs[1].clamp(min=1)
                if run is not None and run.d.active:
                    run.d.mean_(rt)  # every rank's shard is the same size: the mean of means
                self.rt.copy_(rt)
                self.p.copy_((self.p + torch.sign(rt - self.target) * self.step_size).clamp(min=0))
                self.signs.zero_()
        return {"augment/p": Term(None, self.p.clone()), "augment/rt": Term(None, self.rt.clone())}

    def state_dict(self) -> dict[str, Any]:
        return {
            "p": self.p.detach().cpu().clone(),
            "signs": self.signs.cpu().clone(),
            "rt": self.rt.cpu().clone(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p.copy_(state["p"])
        self.signs.copy_(state["signs"])
        self.rt.copy_(state["rt"])

    def graph_key(self, step: int, d_updates: range, cfg: Any) -> Hashable:
        return self.adaptive and step % self.interval == 0  # the adjustment runs at these steps only


@TRICKS.register("ada")
def build(cfg, loss) -> Trick | None:
    t = cfg.train
    kind = t.get("augment", "none")
    if kind == "none":
        return None
    return Ada(
        kind == "ada",
        float(t.augment_p),
        float(t.ada_target),
        int(t.ada_interval),
        float(t.ada_kimg),
        int(t.batch_size),
        str(cfg.dataset.name),
        float(getattr(loss, "boundary", 0.0)),
    )
