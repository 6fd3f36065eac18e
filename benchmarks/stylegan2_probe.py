"""Where does experiment=stylegan2_mnist's collapse come from? (issue 36, docs/results.md)

Trains the preset (plus any gan-train overrides) for a few hundred steps on the `mnist real` digits and
reports, every --every steps, how varied G's samples are: the digit classes among 500 samples of G's
weight average (by the dataset's classifier, classes holding at least 2% of them), the pixel spread (the
mean over pixels of the standard deviation over 256 samples) and the sample spread (the mean distance
between two samples over the mean distance between two training digits; a collapsed G scores near 0,
the data 1).

    python -m benchmarks.stylegan2_probe [--steps N] [--g-model M] [--d-model M] [OVERRIDE ...]
    python -m benchmarks.stylegan2_probe --official PATH      # the official training on the same digits

--g-model / --d-model take G or D from another registered model (e.g. dcgan) at the same image size, the
rest of the run unchanged, to tell which network the collapse is in. --official runs the official code of
NVlabs/stylegan2-ada-pytorch (a checkout, not part of gan-cli) instead of gan-cli, with the composed
config's values: its networks at the config's sizes, its StyleGAN2Loss and its training loop's phases (G,
then D, each on its own latents; lazy R1 every loss.r1_every D updates; Adam with the lazy correction; its
EMA of G with the ramp-up), fp32, without ADA and path length as in the preset's first steps. Its own loop
needs CUDA; this drives the same phases on the CPU. Beside torch the official code imports `requests` (put
it on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.stylegan2 import official_networks
from gan_cli.classifier import get_classifier
from gan_cli.data import DATASETS
from gan_cli.ema import make_ema
from gan_cli.engine.distributed import Dist
from gan_cli.engine.setup import build_run, seed_everything
from gan_cli.engine.step import train_step
from gan_cli.models import build_models
from gan_cli.nets.stylegan2 import set_sampling
from gan_cli.optim import apply_schedule, build_optimizers, lazy_factors
from tests.helpers import make_cfg

ROOT = Path(__file__).resolve().parents[1]
MNIST_REAL = ROOT / "outputs" / "quality" / "data" / "mnist-real"  # written by `make quality`


class Judge:
    """The variety figures of G's samples against the training digits."""

    def __init__(self, data) -> None:
        self.clf = get_classifier("mnist", data.images, data.labels)
        self.real = self.spread(data.images[:500].float() / 127.5 - 1)

    @staticmethod
    def spread(x: torch.Tensor) -> float:
        x = x.flatten(1)
        return torch.cdist(x[:250], x[250:500]).mean().item()

    def line(self, images: torch.Tensor) -> str:
        images = images.float().clamp(-1, 1)
        _, probs = self.clf.outputs(images)
        counts = torch.bincount(probs.argmax(1), minlength=self.clf.num_classes)
        classes = int((counts >= 0.02 * len(images)).sum())
        pixel = images[:256].std(0).mean().item()
        spread = self.spread(images) / self.real
        return f"classes {classes}, pixel spread {pixel:.3f}, sample spread {spread:.2f}"


@torch.no_grad()
def samples(G: torch.nn.Module, nz: int, gen: torch.Generator, **kw) -> torch.Tensor:
    z = torch.randn(500, nz, generator=gen)
    return torch.cat([G(part, **kw).float() for part in z.split(250)])


def gan_cli_probe(args, cfg, judge: Judge):
    seed_everything(cfg.train.seed)
    run = build_run(cfg, Path(tempfile.mkdtemp()), torch.device("cpu"), None, Dist())
    for which, name in ((0, args.g_model), (1, args.d_model)):
        if name:  # the other model's network at the same data, with its own config group's defaults
            other = make_cfg(
                [f"model={name}", "dataset=mnist", "dataset.image_size=32", f"model.nz={cfg.model.nz}"]
            )
            net = build_models(other, run.data.shape, [])[which]
            if which == 0:
                run.G = run.G_train = net
                run.G_ema = make_ema(net) if cfg.train.ema else None
            else:
                run.D = run.D_train = run.D_frozen = net
            run.opt_g, run.opt_d = build_optimizers(cfg.optimizer, run.G, run.D, lazy_factors(cfg))
    gen, t0 = torch.Generator().manual_seed(1), time.perf_counter()
    for step in range(1, args.steps + 1):
        apply_schedule(cfg.optimizer, (run.opt_g, run.opt_d), step, args.steps, lazy_factors(cfg))
        stats = train_step(run, step) or {}
        if step % args.every == 0:
            G = copy.deepcopy(run.G_ema if run.G_ema is not None else run.G).eval()
            if hasattr(G, "mapping"):
                set_sampling(G, 1.0, "const")
            d = f"D(x) {stats['D/real'].item():.2f}, D(G(z)) {stats['D/fake'].item():.2f}"
            line = judge.line(samples(G, cfg.model.nz, gen))
            print(f"step {step:5d} ({time.perf_counter() - t0:4.0f} s): {line}; {d}", flush=True)
    return run


def official_probe(args, cfg, judge: Judge, data) -> None:
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    m, lo, tc = cfg.model, cfg.loss, cfg.train
    spec = dict(res=cfg.dataset.image_size, channels=data.shape[0], z_dim=m.nz, w_dim=m.w_dim)
    spec |= dict(map=m.map_layers, base=m.channel_base, cmax=m.channel_max, arch=m.d_architecture)
    *_, G, D = official_networks(spec | dict(mbstd=m.mbstd_group), args.official)
    from training.loss import StyleGAN2Loss  # the official code (official_networks put it on sys.path)

    B, nz = tc.batch_size, m.nz
    G, D = G.train().requires_grad_(False), D.train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    cpu = torch.device("cpu")
    loss = StyleGAN2Loss(cpu, G.mapping, G.synthesis, D, None, m.style_mixing, lo.r1_gamma, pl_weight=0)
    phases = []  # (name, module, optimizer, interval): the training loop's lazy regularisation
    for name, module, every in (("G", G, lo.pl_every), ("D", D, lo.r1_every)):
        c = every / (every + 1)  # officially G's interval applies whether or not path length is on
        betas = tuple(b**c for b in cfg.optimizer.betas)
        opt = torch.optim.Adam(module.parameters(), lr=cfg.optimizer.lr * c, betas=betas, eps=1e-8)
        phases += [(name + "main", module, opt, 1), (name + "reg", module, opt, every)]
    c0, gen, t0 = torch.zeros([B, 0]), torch.Generator().manual_seed(1), time.perf_counter()
    for batch_idx in range(args.steps):
        real = data.next(B)
        for (name, module, opt, every), z in zip(
            phases, torch.randn([len(phases) * B, nz]).split(B), strict=True
        ):
            if batch_idx % every:
                continue
            opt.zero_grad(set_to_none=True)
            module.requires_grad_(True)
            loss.accumulate_gradients(name, real, c0, z, c0, sync=True, gain=every)
            module.requires_grad_(False)
            for p in module.parameters():
                if p.grad is not None:
                    torch.nan_to_num(p.grad, nan=0, posinf=1e5, neginf=-1e5, out=p.grad)
            opt.step()
        ema_nimg = min(tc.ema_kimg * 1000, batch_idx * B * tc.ema_rampup)
        beta = 0.5 ** (B / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
                b_ema.copy_(b)
        step = batch_idx + 1
        if step % args.every == 0:
            images = samples(lambda z: G_ema(z, torch.zeros(len(z), 0), noise_mode="const"), nz, gen)
            print(f"step {step:5d} ({time.perf_counter() - t0:4.0f} s): {judge.line(images)}", flush=True)


def main(argv: list[str] | None = None):
    """The trained gan-cli run (None with --official)."""
    doc = __doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--g-model", default="", help="take G from this model (e.g. dcgan)")
    parser.add_argument("--d-model", default="", help="take D from this model (e.g. dcgan)")
    parser.add_argument("--official", default="", help="a checkout of NVlabs/stylegan2-ada-pytorch")
    parser.add_argument("overrides", nargs="*", help="gan-train overrides on top of the preset")
    args = parser.parse_args(argv)
    torch.set_num_threads(2)
    if not (MNIST_REAL / "MNIST" / "raw").is_dir():
        from benchmarks.mnist_real import write

        write(MNIST_REAL, 400)
    overrides = ["experiment=stylegan2_mnist", f"dataset.root={MNIST_REAL}", "train.device=cpu"]
    overrides += ["train.precision=bf16", f"train.seed={args.seed}", f"train.steps={args.steps}"]
    overrides += args.overrides
    cfg = make_cfg(overrides)
    data = DATASETS.build(cfg.dataset, args.seed, torch.device("cpu"))
    judge = Judge(data)
    print(f"training digits: {judge.line(data.images[:500].float() / 127.5 - 1)}")
    if args.official:
        return official_probe(args, cfg, judge, data)
    return gan_cli_probe(args, cfg, judge)


if __name__ == "__main__":
    main()
