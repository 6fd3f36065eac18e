"""errors.py: user errors as one readable paragraph; key=value arguments checked against a schema."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from omegaconf import MISSING

from gan_cli.errors import UserError, parse_key_values, report


@dataclass
class Args:
    run: str = MISSING
    num: int = 8


def test_report_is_one_paragraph_with_the_command_name(capsys):
    report("gan-x", UserError("first line\n   second   line " + "word " * 40))
    err = capsys.readouterr().err
    assert err.startswith("gan-x: error: first line second line") and "Traceback" not in err
    assert all(len(line) <= 100 for line in err.splitlines())


def test_key_values_are_typed_and_every_mistake_names_the_argument():
    assert parse_key_values(["run=a", "num=3"], Args, "usage: x") == Args("a", 3)
    for argv, says in [(["run=a", "num=abc"], "num"), (["num=3"], "run"), (["run"], "'run'"), (["x=1"], "x")]:
        with pytest.raises(UserError, match=says) as err:
            parse_key_values(argv, Args, "usage: x")
        assert "usage: x" in str(err.value)
