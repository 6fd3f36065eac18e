"""The documents cannot drift: every command shown in README.md and docs/ composes or parses, every `make`
target shown exists, and the code of docs/extending.md runs and trains."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
from omegaconf import open_dict

from gan_cli import schema
from gan_cli.errors import parse_key_values
from gan_cli.evaluate import USAGE, EvalConfig
from gan_cli.sample import parse as parse_sample
from tests.helpers import FAST, REPO, RING

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SKIPPED = ("pip ", "tensorboard ", "source ", "torch.load")  # other tools' commands, shown for context


def blocks(doc: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", doc.read_text(), flags=re.S)


def shown_commands() -> list[tuple[str, str]]:
    """(document, command) for each line of the bash blocks and each inline `gan-train ...` with arguments."""
    found = []
    for doc in DOCS:
        for block in blocks(doc, "bash"):
            for line in block.splitlines():
                if line.strip() and not line.strip().startswith("#"):
                    found.append((doc.name, line.strip()))
        for span in re.findall(r"`(gan-train [^`]+)`", doc.read_text()):
            found.append((doc.name, span))
    return found


COMMANDS = shown_commands()


def one_point(overrides: list[str]) -> list[str]:
    """A sweep's overrides as one of its points (the first choice, the start of an interval or range)."""
    out = []
    for arg, o in zip(overrides, OverridesParser.create().parse_overrides(overrides), strict=True):
        if not o.is_sweep_override():
            out.append(arg)
            continue
        value = o.value()
        if isinstance(value, ChoiceSweep):
            first = value.list[0]
        elif isinstance(value, IntervalSweep | RangeSweep):
            first = value.start
        else:
            first = next(iter(o.sweep_iterator()))
        out.append(f"{o.get_key_element()}={first}")
    return out


def compose_gan_train(args: list[str]) -> None:
    """What `gan-train ARGS --cfg job` checks: the config composes, and its values pass the schema."""
    from gan_cli.train import quote_resume

    args = quote_resume([a for a in args if a not in ("-m", "--multirun")])
    if "--help" in args or "-h" in args:
        return
    if "--cfg" in args:
        i = args.index("--cfg")
        del args[i : i + 2]
    if "-p" in args:
        i = args.index("-p")
        del args[i : i + 2]
    schema.register_schemas()
    with initialize_config_module(version_base="1.3", config_module="gan_cli.conf"):
        cfg = compose(config_name="config", overrides=one_point(args), return_hydra_config=True)
    with open_dict(cfg):
        del cfg["hydra"]
    schema.check(cfg)


def test_the_documents_show_commands_of_every_kind():
    kinds = {cmd.split()[0] for _, cmd in COMMANDS}
    assert {"gan-train", "gan-sample", "gan-eval", "make"} <= kinds
    assert len(COMMANDS) > 40


@pytest.mark.parametrize(("doc", "command"), COMMANDS, ids=[f"{d}:{c[:60]}" for d, c in COMMANDS])
def test_every_shown_command_composes_or_parses(doc, command):
    argv = shlex.split(command, comments=True)
    if argv[0] in ("torchrun", "srun"):  # torchrun ... --no-python gan-train ARGS, srun ... gan-train ARGS
        argv = argv[argv.index("gan-train") :]
    if argv[0] == "gan-train":
        compose_gan_train(argv[1:])
    elif argv[0] == "gan-sample":
        parse_sample(argv[1:])
    elif argv[0] == "gan-eval":
        parse_key_values(argv[1:], EvalConfig, USAGE)
    elif argv[0] == "make":
        makefile = (REPO / "Makefile").read_text()
        for target in argv[1:]:
            assert re.search(rf"^{re.escape(target)}:", makefile, flags=re.M), f"no make target {target}"
    elif argv[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(argv[2]) is not None, argv[2]
    else:
        assert command.startswith(SKIPPED), f"{doc} shows a command this test does not know: {command}"


def test_a_wrong_key_in_a_document_would_be_caught():
    with pytest.raises(Exception, match="no_such_key"):
        compose_gan_train(["train.no_such_key=1"])
    with pytest.raises(Exception, match="optimizer.lr"):
        compose_gan_train(["optimizer.lr=-1"])


def test_the_trick_shown_in_extending_is_the_shipped_file():
    shown = [b for b in blocks(REPO / "docs" / "extending.md", "python") if "class Drift(Trick)" in b]
    assert shown == [(REPO / "gan_cli" / "tricks" / "drift.py").read_text()]


@pytest.mark.slow
def test_the_loss_model_and_dataset_of_extending_train(tmp_path):
    from gan_cli.data import DATASETS
    from gan_cli.losses import LOSSES
    from gan_cli.nets import MODELS
    from gan_cli.train import train
    from tests.helpers import make_cfg, read_summary

    code = [b for b in blocks(REPO / "docs" / "extending.md", "python") if "class Drift" not in b]
    assert len(code) == 3
    added = [(LOSSES, "soft_hinge"), (MODELS, "linear"), (DATASETS, "stripes")]
    try:
        for block in code:
            exec(compile(block, "docs/extending.md", "exec"), {"__name__": "extending_example"})
        loss = LOSSES.get("soft_hinge")(None)
        assert loss.d_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * 1.3132616, rel=1e-6)
        cfg = make_cfg([*FAST, *RING, "model.nz=2"])
        with open_dict(cfg):
            cfg.loss.name, cfg.model.name = "soft_hinge", "linear"
        train(cfg, tmp_path / "points")
        cfg = make_cfg([*FAST, "recipe=none", "model.ngf=8", "model.ndf=8", "model.conditional=false"])
        with open_dict(cfg):
            cfg.dataset.name = "stripes"
        train(cfg, tmp_path / "stripes")
        for run in ("points", "stripes"):
            assert read_summary(tmp_path / run)["status"] == "completed"
    finally:
        for registry, name in added:
            registry._builders.pop(name, None)


def test_the_readme_is_short_and_links_to_documents_that_exist():
    readme = (REPO / "README.md").read_text()
    assert len(readme.encode()) < 15_000
    for doc in DOCS:
        for link in re.findall(r"\]\(([^)#]+)\)", doc.read_text()):
            if not link.startswith("http") and ("/" in link or "." in link):  # ("[sin, cos](xB)" is math)
                assert (doc.parent / link).exists(), f"{doc.name} links to {link}, which does not exist"


def test_every_config_key_is_documented_and_the_resumable_ones_are_listed():
    from dataclasses import fields

    from gan_cli.schema import MODEL_SCHEMAS, RESUMABLE_KEYS, Config

    reference = (REPO / "docs" / "configuration.md").read_text()
    keys = []
    for group in fields(Config):
        if group.default_factory is not None and hasattr(group.default_factory, "__dataclass_fields__"):
            keys += [f"{group.name}.{key.name}" for key in fields(group.default_factory)]
        else:
            keys.append(group.name)
    for model_schema in MODEL_SCHEMAS.values():  # the keys of models with a schema of their own
        keys += [f"model.{key.name}" for key in fields(model_schema)]
    assert [k for k in keys if f"`{k}`" not in reference] == []
    runs = " ".join((REPO / "docs" / "runs.md").read_text().split())
    listed = re.search(r"Only (.*?) may change", runs).group(1)
    assert sorted(re.findall(r"`([\w.]+)`", listed)) == sorted(RESUMABLE_KEYS)
