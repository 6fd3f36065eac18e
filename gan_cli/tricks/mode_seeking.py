"""MSGAN's mode-seeking term (Mao et al. 2019), loss.mode_seeking > 0: G pays for mapping distinct latents
to one image."""

from __future__ import annotations

from torch import Tensor

from gan_cli.tricks.base import TRICKS, Batch, Term, Trick


def mode_seeking(fake: Tensor, z: Tensor, continuous_from: int = 0) -> Tensor:
    """MSGAN's term, for G to minimise: 1 / (mean |G(z1) - G(z2)| / mean |z1 - z2|) over the pairs (first
    half of the batch, second half). A G that ignores part of z (mode collapse within a mode) pays for it.
    Latent coordinates before continuous_from (the class of model.latent_classes, which the two halves
    share) are left out of the latent distance."""
    h = len(fake) // 2
    image = (fake[:h].float() - fake[h : 2 * h].float()).abs().mean()
    latent = (z[:h, continuous_from:] - z[h : 2 * h, continuous_from:]).abs().mean()
    return 1.0 / (image / latent + 1e-5)


class ModeSeeking(Trick):
    name = "mode_seeking"

    def __init__(self, weight: float, classes: int) -> None:
        self.weight, self.classes = weight, classes

    def before_d(self, b: Batch) -> None:
        if self.classes:  # the pairs (first half, second half) share their latent class
            h = len(b.z) // 2
            b.z[h : 2 * h, 0] = b.z[:h, 0]

    def g_terms(self, b: Batch, run) -> dict[str, Term]:
        value = mode_seeking(b.fake, b.z, continuous_from=1 if self.classes else 0)
        return {"loss/mode_seeking": Term(self.weight * value, value)}


@TRICKS.register("mode_seeking")
def build(cfg, loss) -> Trick | None:
    weight = float(cfg.loss.get("mode_seeking", 0.0))
    return ModeSeeking(weight, int(cfg.model.get("latent_classes", 0))) if weight > 0 else None
