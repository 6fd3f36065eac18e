"""ProGAN's drift penalty (Karras et al. 2018), loss.drift > 0: D's loss adds drift * E[D(x)^2] on real
data, which keeps a critic's outputs from drifting far from zero (useful with wgan and wgan-gp)."""

from __future__ import annotations

from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


class Drift(Trick):
    name = "drift"

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def d_terms(self, b: Batch, run) -> dict[str, Term]:
        value = b.real_out.logits.float().square().mean()  # D's verdicts on this update's real batch
        return {"loss/drift": Term(self.weight * value, value)}


@TRICKS.register("drift")
def build(cfg, loss) -> Trick | None:
    weight = float(cfg.loss.get("drift", 0.0))
    return Drift(weight) if weight > 0 else None
