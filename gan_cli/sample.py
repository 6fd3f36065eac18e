"""gan-sample run=RUN_DIR num=N out=FILE [seed=S]: draw samples from a trained run's last checkpoint.

`.png` writes an image grid, small images enlarged to about 512 pixels across (scale=K: K x K pixels each;
2-D datasets: a scatter plot over D's heat map); `.npy` writes raw samples at the model's resolution:
images as float32 in [0, 1] with shape (N, C, H, W), 2-D points as (N, 2) in data coordinates.
2-D runs trained with train.rejection_steps are sampled through discriminator rejection sampling unless
rejection=false. label=K draws only class K of a run with model.latent_classes (with model.conditional, the
dataset's class K: digit K on digits).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from omegaconf import MISSING
from PIL import Image

from gan_cli.data import DATASETS
from gan_cli.errors import UserError, parse_key_values, report
from gan_cli.hardware import resolve_device
from gan_cli.losses import build_loss
from gan_cli.nets import generate, single
from gan_cli.nets.stylegan2 import set_sampling
from gan_cli.plots import scatter_points
from gan_cli.rejection import load_ratio, rejection_sample
from gan_cli.runs import load_run
from gan_cli.tracking import save_grid

USAGE = (
    "usage: gan-sample run=RUN_DIR num=N out=FILE.png|FILE.npy [seed=S] [device=auto|cpu|cuda] "
    "[rejection=auto|true|false] [label=K] [scale=K] [truncation=PSI] [noise=random|const|none]"
)


@dataclass
class SampleConfig:
    run: str = MISSING  # a gan-train run folder (holding checkpoints/last.pt)
    out: str = MISSING  # .png or .npy
    num: int = 64
    seed: int = 0
    device: str = "auto"
    batch: int = 1024  # samples generated per forward pass
    rejection: str = "auto"  # 2-D runs: rejection sampling: auto (when the run has it) | true | false
    label: int = -1  # runs with model.latent_classes: only this class (conditional runs: the dataset's label)
    scale: int = 0  # .png grids: each pixel as scale x scale pixels (0: about 512 pixels across)
    truncation: float = 1.0  # model=stylegan2: psi, w pulled toward its average (1 = none)
    noise: str = "random"  # model=stylegan2: the noise inputs: random | const (the layers' own) | none


def parse(argv: list[str]) -> SampleConfig:
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__.strip() + "\n\n" + USAGE)
        sys.exit(0)
    sample_cfg: SampleConfig = parse_key_values(argv, SampleConfig, USAGE)
    if sample_cfg.num < 1:
        raise UserError(f"num={sample_cfg.num}: ask for at least one sample.")
    if sample_cfg.scale < 0:
        raise UserError(f"scale={sample_cfg.scale}: give a whole factor of at least 1, or 0 (about 512 px).")
    if sample_cfg.batch < 1:
        raise UserError(f"batch={sample_cfg.batch}: it must be at least 1.")
    sample_cfg.rejection = str(sample_cfg.rejection).lower()  # (the parser reads true/false as booleans)
    if sample_cfg.rejection not in ("auto", "true", "false"):
        raise UserError(f"rejection={sample_cfg.rejection}: use auto, true or false.")
    if Path(sample_cfg.out).suffix.lower() not in (".png", ".npy"):
        raise UserError(f"out={sample_cfg.out}: the file must end in .png (a picture) or .npy (raw samples).")
    return sample_cfg


def sample(args: SampleConfig) -> Path:
    device = resolve_device(args.device)
    G, D, cfg, ckpt = load_run(args.run, device)
    set_sampling(G, args.truncation, args.noise)  # (refused for a G without w or noise inputs)
    ratio = load_ratio(ckpt, cfg, device) if args.rejection != "false" else None
    if args.rejection == "true" and ratio is None:
        raise UserError(
            f"rejection=true: run={args.run} has no rejection sampler; train it with train.rejection_steps=N "
            "(2-D datasets), or resume it with that key to add one."
        )
    classes = int(cfg.model.get("latent_classes", 0))
    if args.label >= 0 and not 0 <= args.label < classes:
        raise UserError(
            f"label={args.label}: run={args.run} has "
            + (
                f"classes 0 to {classes - 1}."
                if classes
                else "no classes (it was trained without model.latent_classes)."
            )
        )
    if ratio is not None and args.label >= 0:
        raise UserError("label=K and rejection sampling do not go together; add rejection=false.")
    if ratio is not None:
        fake, acceptance = rejection_sample(G, ratio, cfg.model.nz, args.num, args.seed, device)
        print(f"rejection sampling: kept {acceptance:.2%} of G's samples")
    else:
        label = args.label if args.label >= 0 else None
        fake = generate(G, cfg.model.nz, args.num, args.seed, device, args.batch, label)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    is_image = ckpt["data_kind"] == "image"
    if out.suffix.lower() == ".npy":
        array = ((fake + 1) / 2).clamp_(0, 1) if is_image else fake  # images: [N, C, H, W] in [0, 1]
        np.save(out, array.numpy().astype(np.float32))
    elif is_image:
        save_grid(fake, out, args.scale)
    else:
        data = DATASETS.build(cfg.dataset, args.seed, torch.device("cpu"))
        real = data.sample_cpu(args.num, torch.Generator().manual_seed(args.seed))
        loss = build_loss(cfg.loss)
        image = scatter_points(
            real, fake, lambda x: loss.prob(single(D, x.to(device))), Path(args.run).name, loss.d_label
        )
        Image.fromarray(image).save(out)
    return out


def main(argv: list[str] | None = None) -> None:
    """Console entry `gan-sample`."""
    try:
        out = sample(parse(sys.argv[1:] if argv is None else argv))
    except UserError as err:
        report("gan-sample", err)
        sys.exit(2)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
