"""A run's metrics, for gan-eval and for training's train.eval_every.

2-D mixtures: PacGAN's modes, high_quality and reverse_kl. Images: Frechet distance, k-NN precision and
recall (k=3), an Inception-like score and class coverage in the features of a small classifier trained on
the dataset's labels (cached per dataset); FID and KID as well when the 2015-12-05 Inception weights are on
disk. Log losses add the JSD gauge (V(D, G) + log 4) / 2. 2-D runs trained with train.rejection_steps add
the same metrics under `rejection` for the samples that discriminator rejection sampling keeps.

Metrics draw their own samples with their own seeded generators, so evaluating never changes training (an
evaluated run stays bit-for-bit resumable).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gan_cli import metrics as M
from gan_cli.classifier import get_classifier, split, to_float
from gan_cli.copies import copy_metrics
from gan_cli.errors import UserError
from gan_cli.inception import InceptionFeatures, get_weights
from gan_cli.losses import build_loss
from gan_cli.metrics import PACGAN_SAMPLES, jsd_estimate, mixture_metrics
from gan_cli.nets import generate, latent
from gan_cli.rejection import THRESHOLD_QUANTILE, rejection_sample


@torch.no_grad()
def evaluate(
    G_sample: nn.Module,
    G: nn.Module,
    D: nn.Module,
    data: Any,
    cfg: Any,
    device: torch.device,
    num: int = PACGAN_SAMPLES,
    seed: int = 0,
    inception: str | None = None,
    how: dict[str, str] | None = None,
    ratio: tuple[nn.Module, float] | None = None,
    train: torch.Tensor | None = None,
    pairs: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Metrics for the run described by cfg: PacGAN's for 2-D mixtures, classifier (and Inception) metrics
    for images, the JSD gauge for log losses. `how`, if given, receives how each number was computed;
    `train`: the images G trained on, when `data` holds others (split=test; default data.images); `pairs`,
    if given, receives the closest sample / training-image pairs (copies.py)."""
    results: dict[str, Any] = {}
    how = {} if how is None else how
    if data.kind == "points":
        fake = generate(G_sample, cfg.model.nz, num, seed, device)
        results.update(mixture_metrics(fake, data.centers, data.std))
        how["modes, high_quality, reverse_kl"] = (
            f"PacGAN protocol (Lin et al. 2018, Table 1): {num} samples from G_ema (seed {seed}); "
            f"high quality = within 3 std ({3 * data.std:g}) of the nearest of {len(data.centers)} modes; "
            "reverse_kl = KL(mode histogram of the high-quality points || uniform)"
        )
        how["distinct"] = (
            "the share of those samples equal to no other sample: about 1 for a generator that is a "
            "continuous map of a continuous latent, low for one that emits a fixed set of points"
        )
        if ratio is not None:  # the run's rejection sampler (train.rejection_steps), as gan-sample uses it
            kept, acceptance = rejection_sample(G_sample, ratio, cfg.model.nz, num, seed, device)
            results["rejection"] = {**mixture_metrics(kept, data.centers, data.std), "acceptance": acceptance}
            how["rejection"] = (
                f"the same metrics on {num} samples of the same G kept by discriminator rejection sampling "
                f"(Azadi et al. 2019): a discriminator fitted to the final G ({cfg.train.rejection_steps} "
                "steps after training) keeps each candidate with probability min(1, exp(logit - M)), M its "
                f"{THRESHOLD_QUANTILE:g} quantile; acceptance = samples kept / candidates drawn"
            )
    else:
        fake = quantize(generate(G_sample, cfg.model.nz, num, seed, device))
        results.update(image_metrics(fake, data, cfg, device, inception, how, train, pairs))
    if build_loss(cfg.loss).estimates_probability:  # minimax, nonsaturating: the JSD gauge applies
        gen = torch.Generator().manual_seed(seed + 1)
        pac = int(cfg.model.get("pac", 1))
        n = max(min(num, 1024) // pac * pac, pac)  # a packed D judges pac samples at once
        cond = bool(cfg.model.get("conditional", False))
        real, y_real = data.sample_eval_labelled(n, gen) if cond else (data.sample_eval(n, gen), None)
        fake = generate(G, cfg.model.nz, n, seed + 2, device)
        was_training = D.training
        D.eval()  # no batch-norm statistics are updated
        if y_real is not None:  # a conditional D judges each image with its label (fake: the class z picked)
            z = latent(n, cfg.model.nz, torch.device("cpu"), torch.Generator().manual_seed(seed + 2))
            y_fake = G.classes_of(z)  # the z that generate() drew (n <= its batch)
            logits = (
                D(real.to(device), y_real.to(device)).logits,
                D(fake.to(device), y_fake.to(device)).logits,
            )
        else:
            logits = D(real.to(device)).logits, D(fake.to(device)).logits
        results["jsd_estimate"] = jsd_estimate(logits[0].float(), logits[1].float())
        D.train(was_training)
        how["jsd_estimate"] = (
            "(V(D, G) + log 4) / 2 with V = mean log D(x) + mean log(1 - D(G(z))) on fresh batches of up to "
            "1024 real and generated samples (G and D in eval mode); "
            + (
                "equals JSD(p_data || p_g) at D = D*"
                if pac == 1
                else f"D is packed (model.pac={pac}): it judges {pac}-tuples of samples, so this estimates "
                f"the JSD between the distributions of {pac} independent samples, JSD(p_data^{pac} || "
                f"p_g^{pac}), at D = D*, not JSD(p_data || p_g)"
            )
        )
    return results


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Generated images as they would be saved: rounded to 8 bits, back in [-1, 1]."""
    return ((images.clamp(-1, 1) + 1) * 127.5).round() / 127.5 - 1


def image_metrics(
    fake: torch.Tensor,
    data: Any,
    cfg: Any,
    device: torch.device,
    inception: str | None,
    how: dict[str, str],
    train: torch.Tensor | None = None,
    pairs: dict[str, torch.Tensor] | None = None,
) -> dict[str, Any]:
    """Classifier-feature metrics against the held-out real images; FID, KID and the Inception Score with
    the Inception weights (on disk, or downloaded into the torch hub cache on first use)."""
    weights, why = get_weights(inception)  # before anything is computed: a wrong path is an error at once
    results: dict[str, Any] = {}
    train = data.images if train is None else train
    if data.labels is None and weights is not None:  # unlabelled data: the Inception metrics only
        ref = data.images.cpu()[split(len(data.images))[1]]
        results.update(copy_metrics(fake, train, None, how, pairs))
    else:
        if data.labels is None:
            raise UserError(
                f"dataset={cfg.dataset.name} has no class labels, so the offline metrics (a classifier "
                f"trained on its labels) cannot be computed, and the Inception metrics are unavailable: {why}"
            )
        clf = get_classifier(cfg.dataset.name, data.images, data.labels)
        ref = clf.reference
        results.update(classifier_metrics(clf, fake, cfg.dataset.name, how))
        if train is not data.images:  # split=test: what real data scores when judged as the samples are
            pick = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))[: len(fake)]
            real = classifier_metrics(clf, to_float(train[pick].cpu()), cfg.dataset.name, {})
            for key in ("precision", "recall", "precision_pixels", "recall_pixels", "is_ratio"):
                results[f"{key}_real"] = real[key]
            how["precision_real, recall_real, precision_pixels_real, recall_pixels_real, is_ratio_real"] = (
                f"the same metrics with {min(len(pick), len(fake))} of the training images in place of the "
                "samples (against the same held-out ones): what real data of the training set scores, the "
                "reference for the samples' figures"
            )
        results.update(copy_metrics(fake, train, lambda x: clf.outputs(x)[0], how, pairs))
    if weights is None:
        how["fid, kid, is"] = f"not computed: {why}"
        return results
    net = InceptionFeatures(weights).to(device)
    (i_real, _), (i_fake, logits_fake) = net(ref.float() / 127.5 - 1), net(fake)
    results["fid"] = M.frechet_distance(*M.feature_stats(i_real), *M.feature_stats(i_fake))
    results["kid"], results["kid_std"] = M.kernel_inception_distance(i_real, i_fake)
    results["is"], results["is_std"] = M.inception_score_splits(logits_fake)
    how["fid, kid, is"] = (
        f"Inception-v3 (weights {weights}, pytorch-fid's FID variant, bilinear resize to 299) of {len(ref)} "
        f"held-out real images and {len(fake)} generated ones. FID and KID on the 2048 pool3 features; KID: "
        f"unbiased MMD^2 with the cubic polynomial kernel over 100 subsets of "
        f"{min(1000, len(ref), len(fake))}. IS of the generated images from the 1008 logits without bias, "
        "over 10 splits of the shuffled samples (torch-fidelity's protocol), mean and std over the splits"
    )
    return results


def classifier_metrics(clf: Any, fake: torch.Tensor, name: str, how: dict[str, str]) -> dict[str, Any]:
    """Frechet distance, k-NN precision/recall, Inception-like score, coverage in the classifier's space."""
    ref = clf.reference
    f_real, p_real = clf.outputs(ref)
    f_fake, p_fake = clf.outputs(fake)
    n = min(len(ref), len(fake))  # k-NN precision/recall compare sets of equal size
    precision, recall = M.knn_precision_recall(f_real[:n], f_fake[:n], k=3)
    # the same in pixels: an independent judge of diversity (classifier features can hide look-alikes)
    pixels = M.knn_precision_recall(to_float(ref[:n]).flatten(1), fake[:n].flatten(1), k=3)
    is_fake, is_real = M.inception_score(p_fake), M.inception_score(p_real)
    hist_fake, hist_real = M.class_histogram(p_fake), M.class_histogram(p_real)
    results = {
        "fd_classifier": M.frechet_distance(*M.feature_stats(f_real), *M.feature_stats(f_fake)),
        "precision": precision,
        "recall": recall,
        "precision_pixels": pixels[0],
        "recall_pixels": pixels[1],
        "is_classifier": is_fake,
        "is_classifier_real": is_real,
        "is_ratio": is_fake / is_real,
        "classes_present": M.classes_present(p_fake),
        "num_classes": clf.num_classes,
        "class_histogram": [round(v, 4) for v in hist_fake.tolist()],
        "class_histogram_real": [round(v, 4) for v in hist_real.tolist()],
        "classifier_accuracy": clf.test_accuracy,
    }
    how["fd_classifier, precision, recall, is_classifier, classes_present"] = (
        f"features (64-d) and class probabilities of a small CNN trained on {clf.train_size} labelled "
        f"'{name}' images and tested on {len(ref)} held-out ones ({100 * clf.test_accuracy:.1f}% "
        f"accuracy; cached at {clf.path}). Real side: those {len(ref)} held-out images; generated side: "
        f"{len(fake)} samples from G_ema, rounded to 8 bits. Frechet distance of Gaussian fits; "
        f"precision/recall: Kynkaanniemi et al. 2019, k=3, on {n} real and {n} generated; is_classifier = "
        "exp(E KL(p(y|x) || p(y))) (is_classifier_real: the same for the held-out real images); a class is "
        "present when it is the top class of at least 1/4 of a uniform share of the samples"
    )
    how["precision_pixels, recall_pixels"] = (
        f"the same k-NN precision and recall (k=3, {n} and {n}) on the images' pixels in [-1, 1] instead of "
        "the classifier's features: an independent judge of how alike the samples are"
    )
    return results
