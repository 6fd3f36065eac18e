"""Typed schemas for every config group, and the value checks types alone cannot express.

Hydra merges the YAML files in `conf/` into these dataclasses, so a wrong type (`train.steps=abc`) or an
unknown key (`train.stpes=5`) is refused while composing, before anything runs. `check(cfg)` then refuses
values that have the right type but no meaning (a negative learning rate), naming the key.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from gan_cli.augment import parse as parse_diffaug
from gan_cli.ema import warm_up
from gan_cli.errors import ConfigError


@dataclass
class DatasetConfig:
    name: str = MISSING
    root: str = "data"  # torchvision datasets: where the files are; folder: the image folder
    download: bool = False  # torchvision datasets: fetch missing files (needs internet)
    image_size: int = 8  # images are resized to image_size x image_size
    channels: int = 1  # 1 (grey) or 3 (RGB)
    num_samples: int = 0  # fake: how many images; others: use at most this many (0 = all)
    # image sets: held on the training device (true), streamed from the decoded-image cache (false), or
    # streamed only when the set would take more than half of the device's free memory (auto)
    in_memory: str = "auto"
    skip_bad: bool = False  # folder: train on the readable images (else an unreadable one is an error)
    decode_workers: int = 0  # folder: processes decoding the images on the first start (0 = one per core)
    split: str = "train"  # mnist, fashion_mnist, cifar10: the train or the test files (gan-eval split=test)
    std: float = 0.01  # ring / grid: standard deviation of each Gaussian
    radius: float = 1.0  # ring: radius of the circle of modes
    num_modes: int = 8  # ring: number of modes
    grid_size: int = 5  # grid: modes per side
    spacing: float = 2.0  # grid: distance between neighbouring modes


@dataclass
class ModelConfig:
    name: str = MISSING
    nz: int = 100  # size of the latent vector z
    ngf: int = 64  # dcgan, resnet: generator width
    ndf: int = 64  # dcgan, resnet: discriminator width
    d_mbstd: int = (
        0  # dcgan: minibatch standard deviation feature before D's last layer, group size (0 = off)
    )
    d_norm: str = "batch"  # D's normalisation: batch | layer | none (dcgan) | spectral (dcgan, mlp, resnet)
    g_hidden: int = 512  # mlp: generator hidden units
    g_layers: int = 3  # mlp: generator hidden layers
    d_hidden: int = 256  # mlp: discriminator hidden units
    d_layers: int = 2  # mlp: discriminator hidden layers
    maxout_pieces: int = 5  # mlp: pieces per maxout unit in D (1 = LeakyReLU 0.2 instead of maxout)
    dropout: float = 0.0  # mlp: dropout before each D layer; dcgan: after each of D's hidden activations
    g_norm: str = "none"  # mlp: normalisation in G: none | batch (batch norm before each ReLU, as PacGAN)
    latent_classes: int = 0  # z's first coordinate picks one of this many classes, fed one-hot (0 = off)
    info_weight: float = 0.0  # InfoGAN: weight of a Q head on D that reads latent_classes' class (0 = off)
    info_continuous: int = 0  # InfoGAN: Q also reads this many of z's continuous coordinates (0 = none)
    conditional: bool = False  # class-conditional GAN (projection D): G's class k = dataset label k
    g_class_norm: bool = False  # dcgan: G's batch norms scale and shift per latent class (conditional BN)
    d_fourier: int = 0  # mlp: random Fourier features [sin, cos](xB) at D's input, this many (0 = off)
    d_fourier_scale: float = 1.0  # mlp: std of B's entries (frequencies, in radians per data unit)
    pac: int = 1  # PacGAN: D judges this many samples at once (1 = off); train.batch_size must be a multiple


@dataclass
class StyleGAN2Config(ModelConfig):
    """model=stylegan2's own keys (conf/model/stylegan2.yaml starts from this schema, so they are refused
    with other models); the shared keys above (nz, latent_classes, conditional) keep their meaning."""

    name: str = "stylegan2"
    nz: int = 512  # z_dim (plus one coordinate that picks the class with model.latent_classes)
    w_dim: int = 512  # the intermediate latent w
    map_layers: int = 8  # fully connected layers of the mapping network (learning-rate multiplier 0.01)
    channel_base: int = 16384  # a resolution's width is min(channel_base // resolution, channel_max)
    channel_max: int = 512
    mbstd_group: int = 4  # D's minibatch standard deviation: group size (0 = the whole batch)
    d_architecture: str = "resnet"  # resnet | orig (no residual shortcuts; the official CIFAR config)
    style_mixing: float = 0.9  # share of training batches whose ws switch latent at a random layer
    d_norm: str = "none"  # (StyleGAN2's D has no normalisation layers)


@dataclass
class LossConfig:
    name: str = MISSING
    clip: float = 0.01  # wgan: D weights are clipped to [-clip, clip] after each D update
    gp_weight: float = 10.0  # wgan-gp: lambda of the gradient penalty
    gp_every: int = 1  # wgan-gp: apply the penalty every N D updates, scaled by N (lazy regularisation)
    r1_gamma: float = 0.0  # any loss: R1 penalty gamma/2 * E||grad D(x_real)||^2 (0 = off)
    r1_every: int = 1  # apply R1 every N D updates, scaled by N (lazy regularisation)
    topk: float = 1.0  # any loss: G learns from this fraction of its samples, those D rates best (1 = all)
    mode_seeking: float = 0.0  # any loss: MSGAN's diversity term in G's loss, this weight (0 = off)
    drift: float = 0.0  # any loss: ProGAN's drift penalty drift * E[D(x)^2] in D's loss (0 = off)
    pl_weight: float = 0.0  # stylegan2: path-length regularisation of G, this weight (0 = off; officially 2)
    pl_every: int = 4  # ...every N G updates, scaled by N (lazy regularisation)
    pl_decay: float = 0.01  # ...the running mean of path lengths moves this fraction per evaluation
    pl_batch_shrink: int = 2  # ...on batch_size / this many latents


@dataclass
class OptimizerConfig:
    name: str = MISSING
    lr: float = 2e-4  # learning rate of both networks...
    lr_g: float | None = None  # ...unless set per network (TTUR)
    lr_d: float | None = None
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # adam: (beta1, beta2) of both
    betas_g: list[float] | None = None
    betas_d: list[float] | None = None
    momentum: float = 0.0  # sgd, rmsprop
    alpha: float = 0.99  # rmsprop: smoothing constant
    weight_decay: float = 0.0
    lr_decay: str = "none"  # none | linear: both fall linearly to 0 at train.steps (resume with more steps
    # stretches what is left of the schedule)
    # StyleGAN2's correction for lazy regularisation: a network regularised every N > 1 updates (R1's
    # loss.r1_every, path length's loss.pl_every) uses lr * c and betas ** c, c = N / (N + 1)
    lazy_correction: bool = False


@dataclass
class TrainConfig:
    steps: int = 6000  # generator updates
    batch_size: int = 64
    d_steps: int = 1  # discriminator updates per generator update (k in Algorithm 1)
    seed: int = 0
    device: str = "auto"  # auto (CUDA when available, else CPU) | cpu | cuda | cuda:N
    log_every: int = 50  # steps between scalar logs (the only host syncs)
    sample_every: int = 500  # steps between sample grids (0 = only at the end)
    ckpt_every: int = 500  # steps between checkpoints (0 = only at the end)
    eval_every: int = 0  # steps between evaluations (metrics/ in TensorBoard; 0 = never)
    # at the end of a completed run: gan-eval's figures into eval.json and TensorBoard (eval/, HParams)
    final_eval: bool = True
    inception: str = ""  # FID/KID/IS Inception weights: a path, none, or "" (hub cache; downloaded if not)
    keep_ckpts: int = 3  # step_*.pt files kept beside last.pt (0 = last.pt only)
    num_samples: int = 64  # images in the sample grid / points in the scatter plot x 16
    ema: bool = True  # keep an exponential moving average of G's weights for samples
    ema_decay: float = 0.999  # the smaller of this and the warm-up (1 + step) / (10 + step) is used
    # StyleGAN2's EMA instead (when > 0): a half-life of ema_kimg thousand images, at most ema_rampup times
    # the images seen so far (0 = no ramp-up); the decay per step is 0.5 ** (batch / half-life)
    ema_kimg: float = 0.0
    ema_rampup: float = 0.0
    threads: int = 0  # CPU threads for torch (0 = torch's default)
    # auto | fp32 | bf16 | fp16: autocast of the forward passes (fp16 adds a GradScaler); auto picks per
    # device what `make bench` measured fastest (hardware.auto_precision) and the run records its choice
    precision: str = "auto"
    tf32: bool = True  # CUDA: fp32 matmuls and convolutions on TF32 tensor cores (no effect on a CPU)
    cuda_graph: bool = True  # CUDA: capture the whole step as one CUDA graph and replay it (engine/graphs)
    channels_last: bool = True  # NHWC memory for convolutional models (faster with oneDNN and cuDNN)
    world_size: int = 1  # data-parallel processes gan-train starts (DDP; gloo on CPU, NCCL on CUDA)
    diffaug: list[str] = field(default_factory=list)  # DiffAugment of D's inputs: [translation,cutout]
    # ADA's augmentation of every image D sees (StyleGAN2-ADA's bgc pipe): none | ada (p adapts to D's
    # overfitting) | fixed (p = augment_p throughout)
    augment: str = "none"
    augment_p: float = 0.0  # the augmentation probability p: fixed's constant, ada's start
    ada_target: float = 0.6  # ada: the target of r_t = E[sign(D(real))]
    ada_interval: int = 4  # ada: steps between adjustments of p
    ada_kimg: float = 500.0  # ada: thousands of images for p to move by 1
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, falling linearly to 0 (0 = off)...
    instance_noise_until: float = 0.5  # ...at this fraction of train.steps
    # linear | geometric (to 1/100 of the start, then 0) | mixed (each sample's std log-uniform between
    # 1/100 of the start and the start, until train.instance_noise_until)
    instance_noise_schedule: str = "linear"
    rejection_steps: int = 0  # 2-D data: after training, fit a discriminator for rejection sampling (0 off)
    compile: str = "none"  # torch.compile: none | default | reduce-overhead (CUDA graphs) | max-autotune


@dataclass
class Config:
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    resume: str | None = None  # a run folder to continue in place from its checkpoints/last.pt
    objective: str = ""  # after training, evaluate and return this metric (auto, or a gan-eval key)


MODEL_SCHEMAS = {"stylegan2": StyleGAN2Config}  # models with a schema of their own keys


def typed(saved: Any) -> Any:
    """A saved (plain) run config as the typed Config it was composed into, its model group under the
    model's own schema where it has one (a checkpoint's config, on resume)."""
    base = OmegaConf.structured(Config)
    name = (saved.get("model") or {}).get("name") if hasattr(saved, "get") else None
    if name in MODEL_SCHEMAS:
        base = OmegaConf.merge(base, {"model": OmegaConf.structured(MODEL_SCHEMAS[name])})
    return OmegaConf.merge(base, saved)


SPLIT_DATASETS = ("mnist", "fashion_mnist", "cifar10")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune")

# What a resume may change: how long to train and how to watch it, never what is trained.
RESUMABLE_KEYS = (
    "train.steps",
    "train.log_every",
    "train.sample_every",
    "train.ckpt_every",
    "train.eval_every",
    "train.inception",
    "train.keep_ckpts",
    "train.device",
    "train.threads",
    "train.world_size",
    "train.compile",
    "train.tf32",
    "train.cuda_graph",
    "train.rejection_steps",
    "dataset.in_memory",
    "dataset.decode_workers",
)


def _first_set(value: Any, default: Any) -> Any:
    return default if value in (None, "") else value


def _times(value: Any, factor: Any) -> float:
    """${gan_times:${optimizer.lr},0.5}: a key that follows another at a fixed ratio (the digits
    recipe's lr_d)."""
    return float(value) * float(factor)


def _stylegan2_auto(key: str, resolution: Any) -> Any:
    """${gan_stylegan2_auto:KEY,${dataset.image_size}}: the official `auto` config of
    NVlabs/stylegan2-ada-pytorch (train.py, one GPU) at a resolution: batch min(4096 // res, 32),
    channel_base 16384 below 512 px (fmaps 0.5) else 32768, lr 0.0025 (0.002 from 1024 px), R1 gamma
    0.0002 * res^2 / batch, EMA half-life batch * 10 / 32 thousand images, 25,000 thousand images of
    training (as G updates of that batch)."""
    res = int(resolution)
    batch = max(min(4096 // res, 32), 1)
    values = {
        "batch": batch,
        "channel_base": 32768 if res >= 512 else 16384,
        "lr": 0.002 if res >= 1024 else 0.0025,
        "gamma": 0.0002 * res**2 / batch,
        "ema_kimg": batch * 10 / 32,
        "steps": 25_000_000 // batch,
    }
    if key not in values:
        raise ConfigError(f"gan_stylegan2_auto: unknown key {key!r}; one of {', '.join(values)}")
    return values[key]


JOB_NAME_MAX = 100  # characters of a sweep job's folder name, hash included
_UNSAFE = re.compile(r'[<>:"/\\|?*\s\x00-\x1f]')  # not in a file name on some OS (Windows: all)


def job_dir_name(num: Any, overrides: str) -> str:
    """A sweep job's folder: its number, then its overrides (Hydra's override_dirname, e.g.
    `loss=hinge,optimizer.lr=0.0001`), legal on every OS (characters some OS refuses become `-`) and at
    most JOB_NAME_MAX characters (a longer list is cut and ends in a hash of the whole; the full list is in
    the job's .hydra/overrides.yaml)."""
    name = f"{num}_{_UNSAFE.sub('-', overrides)}".rstrip(". ") if overrides else str(num)
    if len(name) > JOB_NAME_MAX:
        digest = hashlib.sha1(overrides.encode()).hexdigest()[:8]
        name = f"{name[: JOB_NAME_MAX - 10].rstrip('. ')}~{digest}"
    return name


SWEPT_ENV = "GAN_CLI_SWEPT"  # the keys a multirun command line sweeps (gan-train's main sets it)


def swept_overrides(task: list[str], swept: list[str]) -> str:
    """The overrides of one job that the sweep varies, in the command line's order, as `k=v,k=v`."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    values = {}
    for text in task:
        override = OverridesParser.create().parse_override(text)
        values[override.key_or_group] = text
    return ",".join(values[k] for k in swept if k in values)


def _job_dir(num: Any, *, _root_: Any) -> str:
    """${gan_job_dir:${hydra.job.num}}: hydra.sweep.subdir, named by job_dir_name after the keys the sweep
    varies (when gan-train's command line says which), else after all of the job's overrides."""
    swept = [k for k in os.environ.get(SWEPT_ENV, "").split(",") if k]
    task = list(OmegaConf.select(_root_, "hydra.overrides.task", default=[]) or [])
    named = swept_overrides(task, swept) if swept else ""
    return job_dir_name(num, named or str(OmegaConf.select(_root_, "hydra.job.override_dirname", default="")))


def _hydra_subdir(resume: Any, now: str) -> str:
    return ".hydra" if resume in (None, "") else f".hydra/resume_{now}"


def register_schemas() -> None:
    """Make the schemas and resolvers known to Hydra (`defaults: [base_config, ...]` in conf/config.yaml)."""
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    cs.store(group="model", name="stylegan2_schema", node=StyleGAN2Config)
    # Hydra infrastructure (not a component): checks the output folder before Hydra creates it.
    cs.store(
        name="gan_callbacks",
        package="hydra.callbacks",
        node={"output_dir_check": {"_target_": "gan_cli.hooks.OutputDirCheck"}},
    )
    # hydra.run.dir is the resumed run's own folder when resume= is given.
    OmegaConf.register_new_resolver("gan_first_set", _first_set, replace=True)
    OmegaConf.register_new_resolver("gan_hydra_subdir", _hydra_subdir, replace=True)
    OmegaConf.register_new_resolver("gan_times", _times, replace=True)
    OmegaConf.register_new_resolver("gan_stylegan2_auto", _stylegan2_auto, replace=True)
    OmegaConf.register_new_resolver("gan_job_dir", _job_dir, replace=True)


def _require(ok: bool, key: str, value: Any, why: str) -> None:
    if not ok:
        raise ConfigError(f"invalid value for {key}: {value!r}. {why}")


def unused(cfg: Any, shape: tuple[int, ...]) -> list[str]:
    """Keys that are set but have no effect with the rest of the config and the data's shape (train logs
    them as warnings). A recipe or preset may set them together with other keys, and a command line may
    then change one of those, so they are not refused."""
    m, notes = cfg.model, []
    if m.get("g_class_norm", False) and (m.name not in ("dcgan", "resnet") or not m.latent_classes):
        why = f"model={m.name}" if m.name not in ("dcgan", "resnet") else "model.latent_classes=0"
        notes.append(
            f"model.g_class_norm=true has no effect with {why}: conditional batch norm belongs to the dcgan "
            "and resnet generators and reads the class that z picks (model.latent_classes > 0)."
        )
    elif m.get("g_class_norm", False) and m.name == "dcgan" and len(shape) == 3 and shape[1] == 28:
        notes.append(
            "model.g_class_norm=true has no effect at 28x28: the 28x28 MNIST networks have no "
            "conditional batch norm (dataset.image_size=32 uses the 4 * 2^n DCGAN, which has)."
        )
    t = cfg.train
    decay, steps = t.get("ema_decay", TrainConfig.ema_decay), t.get("steps", 1)
    last = warm_up(steps)
    if t.get("ema", False) and decay > TrainConfig.ema_decay and last < decay:
        # update_ema uses min(ema_decay, warm_up(step)): warm_up reaches decay at this step
        reached = math.ceil(round((10 * decay - 1) / (1 - decay), 6))
        notes.append(
            f"train.ema_decay={decay:g} has no effect in a run of train.steps={steps}: G's weight average "
            f"uses the smaller of it and the warm-up (1 + step) / (10 + step), which stays under {decay:g} "
            f"until step {reached:,} ({last:.4f} at the last step), so every step uses the warm-up's decay "
            f"and the average is the one any train.ema_decay of at least {last:.4f} gives. Train longer or "
            "leave the key at its default."
        )
    return notes


def check(cfg: Any) -> None:
    """Refuse values that are well-typed but meaningless; each message names the key and what to do. The
    checks run in a fixed order, so a config with several bad values is refused for the same one each time."""
    _check_train(cfg.train)
    _check_optimizer(cfg.optimizer)
    _check_dataset(cfg.dataset)
    _check_data_and_model(cfg.train, cfg.optimizer, cfg.dataset, cfg.model)
    _check_loss_and_tricks(cfg.train, cfg.dataset, cfg.loss)
    _require(
        not cfg.loss.pl_weight or cfg.model.name == "stylegan2",
        "loss.pl_weight",
        cfg.loss.pl_weight,
        f"Path-length regularisation acts on the intermediate latent w of model=stylegan2; model="
        f"{cfg.model.name} has none. Leave loss.pl_weight=0.",
    )


def _check_train(t: Any) -> None:
    for key in ("steps", "batch_size", "d_steps", "log_every", "num_samples"):
        _require(t[key] >= 1, f"train.{key}", t[key], "It must be a whole number of at least 1.")
    for key in ("sample_every", "ckpt_every", "eval_every", "keep_ckpts", "threads"):
        _require(t[key] >= 0, f"train.{key}", t[key], "It must be 0 or a positive whole number.")
    _require(t.precision in PRECISIONS, "train.precision", t.precision, "Use auto, fp32, bf16 or fp16.")
    parse_diffaug(t.diffaug)  # unknown transform names: a ConfigError naming train.diffaug
    _check_augment(t)
    _require(
        t.compile in COMPILE_MODES,
        "train.compile",
        t.compile,
        "Use none, default, reduce-overhead (CUDA graphs on a GPU) or max-autotune.",
    )
    _require(0.0 <= t.ema_decay < 1.0, "train.ema_decay", t.ema_decay, "It must be in [0, 1), e.g. 0.999.")
    _require(t.ema_kimg >= 0, "train.ema_kimg", t.ema_kimg, "It must be 0 (use train.ema_decay) or positive.")
    _require(t.ema_rampup >= 0, "train.ema_rampup", t.ema_rampup, "It must be 0 (no ramp-up) or positive.")
    dev = str(t.device)
    _require(
        dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()),
        "train.device",
        dev,
        "Use auto, cpu, cuda or cuda:N.",
    )


def _check_augment(t: Any) -> None:
    _require(
        t.augment in ("none", "ada", "fixed"),
        "train.augment",
        t.augment,
        "Use none, ada (adaptive discriminator augmentation) or fixed (train.augment_p throughout).",
    )
    _require(0.0 <= t.augment_p <= 1.0, "train.augment_p", t.augment_p, "It is a probability, in [0, 1].")
    _require(
        t.augment == "none" or not t.diffaug,
        "train.augment",
        t.augment,
        f"ADA's augmentation and DiffAugment (train.diffaug={list(t.diffaug)}) both augment what D sees; "
        "use one of them (train.diffaug=[] or train.augment=none).",
    )
    _require(0.0 < t.ada_target < 1.0, "train.ada_target", t.ada_target, "It must be in (0, 1), e.g. 0.6.")
    _require(t.ada_interval >= 1, "train.ada_interval", t.ada_interval, "It must be at least 1, e.g. 4.")
    _require(t.ada_kimg > 0, "train.ada_kimg", t.ada_kimg, "It must be positive, e.g. 500.")


def _check_optimizer(o: Any) -> None:
    for key in ("lr", "lr_g", "lr_d"):
        v = o[key]
        if v is not None:
            _require(
                math.isfinite(v) and v > 0,
                f"optimizer.{key}",
                v,
                "A learning rate must be positive, e.g. 2e-4.",
            )
    for key in ("betas", "betas_g", "betas_d"):
        v = o[key]
        if v is not None:
            _require(
                len(v) == 2 and all(0.0 <= b < 1.0 for b in v),
                f"optimizer.{key}",
                list(v),
                "Give two numbers in [0, 1), e.g. [0.5,0.999].",
            )
    _require(o.momentum >= 0, "optimizer.momentum", o.momentum, "It must be 0 or positive.")
    _require(o.weight_decay >= 0, "optimizer.weight_decay", o.weight_decay, "It must be 0 or positive.")


def _check_dataset(d: Any) -> None:
    _require(d.channels in (1, 3), "dataset.channels", d.channels, "Use 1 (grey) or 3 (RGB).")
    _require(d.image_size >= 4, "dataset.image_size", d.image_size, "It must be at least 4 pixels.")
    _require(d.num_samples >= 0, "dataset.num_samples", d.num_samples, "It must be 0 (all) or positive.")
    _require(
        str(d.in_memory).lower() in ("auto", "true", "false"),
        "dataset.in_memory",
        d.in_memory,
        "Use auto, true (the whole set on the training device) or false (streamed from the cache).",
    )
    _require(d.split in ("train", "test"), "dataset.split", d.split, "Use train or test.")
    _require(
        d.split == "train" or d.name in SPLIT_DATASETS,
        "dataset.split",
        d.split,
        f"Only {', '.join(SPLIT_DATASETS)} have a test split; dataset={d.name} has one set of images.",
    )
    _require(d.decode_workers >= 0, "dataset.decode_workers", d.decode_workers, "Use 0 (one per core) or 1+.")
    _require(d.std > 0, "dataset.std", d.std, "It must be positive.")


def _check_data_and_model(t: Any, o: Any, d: Any, m: Any) -> None:
    for key in ("nz", "ngf", "ndf", "g_hidden", "g_layers", "d_hidden", "d_layers", "maxout_pieces"):
        _require(m[key] >= 1, f"model.{key}", m[key], "It must be a whole number of at least 1.")
    _require(t.world_size >= 1, "train.world_size", t.world_size, "It must be a whole number of at least 1.")
    _require(
        t.batch_size % (t.world_size * m.pac) == 0,
        "train.batch_size",
        t.batch_size,
        f"With train.world_size={t.world_size} and model.pac={m.pac} it must be a multiple of "
        f"{t.world_size * m.pac} (each rank trains on batch_size / world_size samples, packed by pac).",
    )
    _require(m.pac >= 1, "model.pac", m.pac, "It must be a whole number of at least 1 (1 = no packing).")
    _require(o.lr_decay in ("none", "linear"), "optimizer.lr_decay", o.lr_decay, "Use none or linear.")
    _require(
        m.d_norm in ("batch", "layer", "none", "spectral"),
        "model.d_norm",
        m.d_norm,
        "Use batch, layer, none or spectral.",
    )
    _require(0.0 <= m.dropout < 1.0, "model.dropout", m.dropout, "It must be in [0, 1).")
    _require(
        m.name in ("mlp", "dcgan") or not m.dropout,
        "model.dropout",
        m.dropout,
        "It belongs to the mlp and dcgan discriminators; leave it at 0 with other models.",
    )
    _require(m.g_norm in ("none", "batch"), "model.g_norm", m.g_norm, "Use none or batch.")
    _require(m.latent_classes >= 0, "model.latent_classes", m.latent_classes, "It must be 0 (off) or more.")
    _require(
        not m.latent_classes or m.nz >= 2,
        "model.nz",
        m.nz,
        "With model.latent_classes it must be at least 2 (the first coordinate picks the class).",
    )
    _require(m.d_mbstd >= 0, "model.d_mbstd", m.d_mbstd, "It must be 0 (off) or a group size such as 4.")
    _require(
        m.name == "dcgan" or not m.d_mbstd,
        "model.d_mbstd",
        m.d_mbstd,
        "It belongs to the dcgan model's discriminator; leave it at 0 with other models.",
    )
    _require(m.info_weight >= 0, "model.info_weight", m.info_weight, "It must be 0 (off) or positive.")
    _require(
        not m.info_weight or m.latent_classes,
        "model.info_weight",
        m.info_weight,
        "InfoGAN's Q head reads the class that z picks, so it needs model.latent_classes > 0 (for example "
        "model.latent_classes=10).",
    )
    _require(
        0 <= m.info_continuous <= max(0, m.nz - 1) and (not m.info_continuous or m.info_weight > 0),
        "model.info_continuous",
        m.info_continuous,
        f"It counts z's continuous coordinates that Q reads: from 0 to model.nz - 1 ({m.nz - 1}), and it "
        "needs model.info_weight > 0.",
    )
    _require(
        not m.conditional or (m.latent_classes and m.pac == 1 and not m.info_weight),
        "model.conditional",
        m.conditional,
        "A conditional GAN draws each generated image's label as the class its z picks, so it needs "
        "model.latent_classes set to the dataset's number of classes (for example model.latent_classes=10 "
        "for digits). It cannot be combined with model.pac > 1 or model.info_weight > 0: to use those, add "
        "model.conditional=false (the default job's recipe turns it on; recipe=none leaves the recipe out).",
    )
    _require(m.d_fourier >= 0, "model.d_fourier", m.d_fourier, "It must be 0 (off) or a number of features.")
    _require(m.d_fourier_scale > 0, "model.d_fourier_scale", m.d_fourier_scale, "It must be positive.")
    if m.name == "stylegan2":
        _check_stylegan2(t, m)
    _require(
        m.name == "mlp" or not (m.d_fourier or m.g_norm != "none"),
        "model.name",
        m.name,
        "model.g_norm and model.d_fourier belong to the mlp model; leave them "
        "at their defaults (none, 0) with other models.",
    )


def _check_stylegan2(t: Any, m: Any) -> None:
    for key in ("w_dim", "map_layers", "channel_base", "channel_max"):
        _require(m[key] >= 1, f"model.{key}", m[key], "It must be a whole number of at least 1.")
    _require(
        m.d_architecture in ("resnet", "orig"),
        "model.d_architecture",
        m.d_architecture,
        "Use resnet or orig.",
    )
    _require(m.d_norm == "none", "model.d_norm", m.d_norm, "StyleGAN2's D has no normalisation; use none.")
    _require(
        0 <= m.style_mixing <= 1, "model.style_mixing", m.style_mixing, "It is a probability, in [0, 1]."
    )
    _require(
        not m.info_weight,
        "model.info_weight",
        m.info_weight,
        "InfoGAN's Q head is built for the dcgan, resnet and mlp discriminators; StyleGAN2's D has no "
        "place for it here. Leave model.info_weight=0 with model=stylegan2 (model.conditional=true "
        "conditions it on the labels).",
    )
    shard = t.batch_size // t.world_size
    group = min(m.mbstd_group, shard) if m.mbstd_group else shard
    _require(
        m.mbstd_group >= 0 and shard % group == 0,
        "model.mbstd_group",
        m.mbstd_group,
        f"D's minibatch standard deviation splits each process's batch of {shard} into groups of this many "
        "(0 = the whole batch): use 0 or a divisor of it, e.g. 4.",
    )


def _check_loss_and_tricks(t: Any, d: Any, lo: Any) -> None:
    _require(lo.clip > 0, "loss.clip", lo.clip, "The clipping bound must be positive, e.g. 0.01.")
    _require(lo.gp_weight >= 0, "loss.gp_weight", lo.gp_weight, "It must be 0 or positive, e.g. 10.")
    _require(lo.gp_every >= 1, "loss.gp_every", lo.gp_every, "It must be a whole number of at least 1.")
    _require(lo.r1_gamma >= 0, "loss.r1_gamma", lo.r1_gamma, "It must be 0 (off) or positive, e.g. 0.1.")
    _require(lo.r1_every >= 1, "loss.r1_every", lo.r1_every, "It must be a whole number of at least 1.")
    _require(
        t.instance_noise_schedule in ("linear", "geometric", "mixed"),
        "train.instance_noise_schedule",
        t.instance_noise_schedule,
        "Use linear, geometric or mixed.",
    )
    _require(t.instance_noise >= 0, "train.instance_noise", t.instance_noise, "It must be 0 (off) or more.")
    _require(
        0.0 < t.instance_noise_until <= 1.0,
        "train.instance_noise_until",
        t.instance_noise_until,
        "It must be in (0, 1]: the fraction of train.steps at which the noise reaches 0.",
    )
    _require(t.rejection_steps >= 0, "train.rejection_steps", t.rejection_steps, "It must be 0 or more.")
    _require(
        not t.rejection_steps or d.name in ("ring", "grid"),
        "train.rejection_steps",
        t.rejection_steps,
        f"Rejection sampling is for the 2-D datasets (ring, grid), not dataset={d.name}; leave it at 0.",
    )
    _require(lo.mode_seeking >= 0, "loss.mode_seeking", lo.mode_seeking, "It must be 0 (off) or positive.")
    _require(
        lo.mode_seeking == 0 or t.batch_size // t.world_size >= 2,
        "loss.mode_seeking",
        lo.mode_seeking,
        "It compares pairs of samples (the two halves of each batch), so train.batch_size per process "
        "(batch_size / world_size) must be at least 2.",
    )
    _require(lo.drift >= 0, "loss.drift", lo.drift, "It must be 0 (off) or positive, e.g. 0.001.")
    _require(lo.pl_weight >= 0, "loss.pl_weight", lo.pl_weight, "It must be 0 (off) or positive, e.g. 2.")
    _require(lo.pl_every >= 1, "loss.pl_every", lo.pl_every, "It must be a whole number of at least 1.")
    _require(0 < lo.pl_decay <= 1, "loss.pl_decay", lo.pl_decay, "It must be in (0, 1], e.g. 0.01.")
    _require(
        lo.pl_batch_shrink >= 1 and t.batch_size // t.world_size >= lo.pl_batch_shrink,
        "loss.pl_batch_shrink",
        lo.pl_batch_shrink,
        "It divides each process's batch for the path-length penalty: at least 1 and at most "
        "train.batch_size / train.world_size.",
    )
    _require(0.0 < lo.topk <= 1.0, "loss.topk", lo.topk, "It must be in (0, 1]; 1 keeps every sample.")
