"""benchmarks/quality.py: goals judged on the mean, the table, rows kept across partial runs."""

from __future__ import annotations

import pytest

from benchmarks.quality import ROWS, meets, table


def result(row: str, seed: int, **metrics) -> dict:
    return {"row": row, "seed": seed, "metrics": metrics, "wall_time_sec": 120.0, "parallel": "1 x 2"}


def test_goals_are_judged_on_the_mean():
    assert meets("ring8", "high_quality", [0.96, 0.99]) == " ✓"  # mean 0.975 >= 0.97
    assert meets("ring8", "high_quality", [0.96, 0.97]) == " ✗"
    assert meets("ring8", "reverse_kl", [0.01, 0.02]) == " ✓"  # at most 0.02
    assert meets("grid25", "modes", [25, 24]) == " ✗"  # 24.5 < 24.9
    assert meets("ring8 loss=hinge", "modes", [8]) == ""  # comparison rows have no goal


def test_table_rows_and_failures():
    results = [
        result("ring8", 0, modes=8, high_quality=0.98, reverse_kl=0.01),
        result("ring8", 1, modes=8, high_quality=0.96, reverse_kl=None),
        result("digits", 0, classes_present=10, is_ratio=0.7, precision=0.6, recall=0.9, fd_classifier=0.8),
        {"row": "grid25", "seed": 0, "error": "Traceback...\nUserError: something broke"},
    ]
    text = table(results, ["ring8", "grid25", "digits"])
    ring = next(line for line in text.splitlines() if line.startswith("| `ring8`"))
    assert "0.970 ± 0.014 ✓" in ring and "| 2 |" in ring and "1 x 2" in ring
    assert "0.010 ± 0.000 ✓" in ring  # the undefined reverse KL is left out, not counted as 0
    digits = next(line for line in text.splitlines() if line.startswith("| `digits`"))
    assert "0.600 ± 0.000 ✗" in digits and "0.900 ± 0.000 ✓" in digits
    assert "`grid25` seed 0 failed: UserError: something broke" in text
    assert list(ROWS)[:4] == ["ring8", "grid25", "grid25_drs", "digits"]


def test_a_run_with_a_rejection_sampler_gets_two_lines_judged_on_the_kept_samples():
    kept = {"modes": 25, "high_quality": 0.98, "reverse_kl": 0.02, "acceptance": 0.02}
    results = [
        result("grid25", s, modes=24, high_quality=0.8, reverse_kl=0.4, rejection=kept) for s in (0, 1)
    ]
    lines = [line for line in table(results, ["grid25"]).splitlines() if line.startswith("| `grid25`")]
    assert len(lines) == 2
    assert "rejection sampling, acceptance 0.020" in lines[0] and "0.980 ± 0.000 ✓" in lines[0]
    assert "before rejection" in lines[1] and "0.800 ± 0.000 |" in lines[1] and "✗" not in lines[1]


def test_a_cached_run_from_before_a_new_key_still_counts_when_the_key_is_at_its_default():
    from benchmarks.quality import same_run

    defaults = {"train": {"steps": 10, "compile": "none"}, "loss": {"topk": 1.0}}
    cached = {"train": {"steps": 10}, "loss": {}}
    assert same_run(cached, {"train": {"steps": 10, "compile": "none"}, "loss": {"topk": 1.0}}, defaults)
    assert not same_run(
        cached, {"train": {"steps": 10, "compile": "default"}, "loss": {"topk": 1.0}}, defaults
    )
    assert not same_run(cached, {"train": {"steps": 20, "compile": "none"}, "loss": {"topk": 1.0}}, defaults)
    assert not same_run(
        {"train": {"steps": 10, "gone": 1}, "loss": {}}, {"train": {"steps": 10}, "loss": {}}, defaults
    )
    assert not same_run(None, {}, defaults)


def test_a_cached_run_records_the_precision_auto_picked_and_still_counts_as_auto():
    from benchmarks.quality import same_run

    defaults = {"train": {"precision": "auto"}}
    for used in ("fp32", "bf16"):  # what auto resolved to on the machine that measured the run
        assert same_run({"train": {"precision": used}}, {"train": {"precision": "auto"}}, defaults)
    assert not same_run({"train": {"precision": "fp32"}}, {"train": {"precision": "bf16"}}, defaults)
    assert not same_run({"train": {"precision": "bf16"}}, {"train": {"precision": "fp32"}}, defaults)


def test_only_keeps_the_published_rows_it_does_not_measure_while_their_config_is_unchanged(
    tmp_path, monkeypatch
):
    import json

    from benchmarks import quality

    today = {"ring8": {"model": {"pac": 2}}, "grid25": {"model": {"pac": 2}}, "ring8 loss=hinge": {"x": 1}}
    monkeypatch.setattr(quality, "composed", lambda overrides, seed: today[" ".join(overrides)])
    monkeypatch.setitem(quality.ROWS, "ring8", (["ring8"], "points", ""))
    monkeypatch.setitem(quality.ROWS, "grid25", (["grid25"], "points", ""))
    monkeypatch.setitem(quality.ROWS, "ring8 loss=hinge", (["ring8 loss=hinge"], "points", ""))
    published = [
        {"row": "ring8", "seed": 0, "config": {"model": {"pac": 2}}},  # unchanged: kept
        {"row": "ring8", "seed": 1, "config": {"model": {"pac": 2}}},  # measured by this call: not kept
        {"row": "grid25", "seed": 0, "config": {"model": {"pac": 4}}},  # config changed since: dropped
        {"row": "ring8 loss=hinge", "seed": 0, "config": {"x": 1}},  # a row this call asked for
        {"row": "ring8", "seed": 2, "error": "boom"},  # a failure is never carried over
        {"row": "gone", "seed": 0, "config": {}},  # a row that no longer exists
    ]
    path = tmp_path / "quality.json"
    path.write_text(json.dumps(published))
    kept = quality.published(path, asked={"ring8 loss=hinge"}, have={("ring8", 1)})
    assert [(r["row"], r["seed"]) for r in kept] == [("ring8", 0)]
    assert quality.published(tmp_path / "missing.json", set(), set()) == []


def test_the_table_names_the_rows_measured_on_another_machine_or_an_unknown_one():
    from benchmarks import quality

    results = [
        {"row": "ring8", "seed": 0, "machine": "CPU A, 2 cores"},
        {"row": "grid25", "seed": 0, "machine": "CPU B, 2 cores"},
        {"row": "digits", "seed": 0},  # measured before results kept their machine
        {"row": "digits", "seed": 1, "error": "boom"},
    ]
    here = "CPU A, 2 cores"
    assert quality.machines(results[:1], ["ring8"], here) == "Machine: CPU A, 2 cores."
    text = quality.machines(results, ["ring8", "grid25", "digits"], here)
    assert text.startswith("Machine: CPU A, 2 cores. Rows kept")
    assert "CPU B, 2 cores: `grid25`" in text
    assert "not recorded (measured before runs kept it): `digits`" in text
    assert "`ring8`" not in text
    rewritten = quality.machines(results, ["ring8", "grid25", "digits"], None)  # --table-only: no "here"
    assert "measuring nothing" in rewritten and "CPU A, 2 cores: `ring8`" in rewritten


def test_every_row_says_what_its_numbers_are_of():
    from benchmarks.quality import setting

    cfg = {
        "model": {"nz": 3, "latent_classes": 25},
        "train": {"ema": False, "steps": 5000, "batch_size": 200, "precision": "fp32"},
    }
    rs = [{"config": cfg, "row": "grid25", "seed": 0}]
    assert setting(rs, "rejection") == (
        "kept by rejection sampling; latent 3 continuous + 25-way categorical; 5,000 steps of 200; fp32"
    )
    assert setting(rs, "plain").startswith("G; latent 3 continuous + 25-way")
    cfg = {"model": {"nz": 16, "conditional": True}, "train": {"ema": True, "steps": 9000, "batch_size": 64}}
    assert setting([{"config": cfg}], "") == (
        "G's weight average (EMA); latent 16 continuous + the class (conditional); 9,000 steps of 64; fp32"
    )
    assert setting([{}], "") == "not recorded"
    auto = {"model": {"nz": 3}, "train": {"ema": False, "steps": 10, "batch_size": 2, "precision": "auto"}}
    assert setting([{"config": auto, "summary": {"precision": "bf16"}}], "").endswith(
        "; bf16"
    )  # what auto picked
    assert setting([{"config": auto}], "").endswith("; auto")  # a run without a summary: only the request
    line = table(
        [{**result("ring8", 0, modes=8, high_quality=1, reverse_kl=0), "machine": "AMD EPYC, 2 cores"}],
        ["ring8"],
    )
    assert line.splitlines()[-1].endswith("| AMD EPYC |")


def test_the_mnist_row_judges_on_held_out_digits():
    from benchmarks.quality import EVAL_ARGS, GOALS

    assert "experiment=mnist_dcgan_lsgan" in ROWS["mnist real"][0]
    assert EVAL_ARGS["mnist real"] == ["split=test"]
    assert GOALS["mnist real"]["recall"] == (">=", 0.8)


def test_the_real_mnist_split_keeps_the_held_out_digits_apart():
    import numpy as np

    from benchmarks.mnist_real import TRAIN_PER_CLASS, split

    y = np.repeat(np.arange(10), 500)
    x = np.arange(5000)[:, None, None] * np.ones((1, 2, 2), np.int64)
    (tx, ty), (vx, vy) = split(x, y)
    assert len(tx) == 10 * TRAIN_PER_CLASS and len(vx) == 5000 - 10 * TRAIN_PER_CLASS
    assert np.bincount(ty).tolist() == [TRAIN_PER_CLASS] * 10 and np.bincount(vy).tolist() == [100] * 10
    assert not set(tx[:, 0, 0]) & set(vx[:, 0, 0])  # no digit in both
    assert ty[:10].tolist() != sorted(ty[:10].tolist()) or len(set(ty[:20])) > 1  # shuffled, not class order


def test_fewer_training_digits_per_class_leave_the_held_out_digits_as_they_were():
    import numpy as np

    from benchmarks.mnist_real import split

    y = np.repeat(np.arange(10), 500)
    x = np.arange(5000)[:, None, None] * np.ones((1, 2, 2), np.int64)
    (_, _), (full_vx, _) = split(x, y)
    (tx, ty), (vx, _) = split(x, y, per_class=100)
    assert len(tx) == 1000 and np.bincount(ty).tolist() == [100] * 10
    assert np.array_equal(vx, full_vx)  # the same 1,000 held-out digits
    assert set(tx[:, 0, 0]) <= set(split(x, y)[0][0][:, 0, 0])  # a subset of the 4,000
    with pytest.raises(SystemExit, match="per-class"):
        split(x, y, per_class=401)
