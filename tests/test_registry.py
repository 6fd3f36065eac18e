"""registry.py: names to builders, with a loud error on duplicates and a helpful one on unknown names."""

from __future__ import annotations

import pytest

from gan_cli.errors import ConfigError
from gan_cli.registry import Registry


def test_register_build_and_list():
    reg = Registry("widget")

    @reg.register("b")
    def b(cfg, k):
        return ("b", cfg.name, k)

    reg.register("a")(lambda cfg: "a")
    assert reg.names() == ["a", "b"] and "a" in reg and "c" not in reg

    class Cfg:
        name = "b"

    assert reg.build(Cfg(), 3) == ("b", "b", 3)


def test_a_name_registered_twice_is_an_error():
    reg = Registry("widget")
    reg.register("a")(lambda cfg: 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(lambda cfg: 2)


def test_an_unknown_name_lists_the_known_ones_and_the_key():
    reg = Registry("widget")
    reg.register("gear")(lambda cfg: 1)
    with pytest.raises(ConfigError, match=r"unknown widget 'cog' \(widget.name\). Known: gear") as err:
        reg.get("cog")
    assert "widget=gear" in str(err.value)
