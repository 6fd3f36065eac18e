"""The package's shape: commands on top of the engine, on top of components, on top of small leaves; no
import cycle, no import inside a function, and an engine whose functions fit on a screen."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGE = REPO / "gan_cli"
LEAVES = {
    "gan_cli",
    "gan_cli.conf",
    "gan_cli.errors",
    "gan_cli.registry",
    "gan_cli.files",
    "gan_cli.hardware",
}
COMMANDS = {"gan_cli.train", "gan_cli.sample", "gan_cli.evaluate", "gan_cli.sweeps", "gan_cli.hooks"}
LAYER_NAMES = ("leaf", "component", "engine", "command")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> int:
    if module in LEAVES:
        return 0
    if module in COMMANDS:
        return 3
    return 2 if module.startswith("gan_cli.engine") else 1


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported gan_cli module, line, inside a function) for every import statement in `module`."""
    tree = ast.parse(MODULES[module].read_text())
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, in_function) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                # `from pkg import name` runs pkg's __init__ (an edge to pkg) and, when name is a
                # submodule, imports it too
                found.append((child.module, child.lineno, in_function))
                for alias in child.names:
                    if (sub := f"{child.module}.{alias.name}") in MODULES:
                        found.append((sub, child.lineno, in_function))
            visit(child, nested)

    visit(tree, False)
    return [(name, line, inner) for name, line, inner in found if name in MODULES]


GRAPH = {m: sorted({name for name, _, _ in imports(m)} - {m}) for m in MODULES}


def test_the_walk_sees_the_package():
    assert {"gan_cli.engine.loop", "gan_cli.tricks.penalty", "gan_cli.nets.dcgan"} <= MODULES.keys()
    assert "gan_cli.engine.setup" in GRAPH["gan_cli.engine.loop"]  # edges are found


def test_no_import_cycle():
    """Depth-first search for a back edge; the message names the cycle."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in GRAPH[m]:
            assert state.get(n) != 1, "import cycle: " + " -> ".join([*path[path.index(n) :], n])
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in GRAPH:
        if m not in state:
            visit(m)


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{m} ({LAYER_NAMES[layer(m)]}) imports {n} ({LAYER_NAMES[layer(n)]})"
        for m, deps in GRAPH.items()
        for n in deps
        if layer(n) > layer(m)
    ]
    assert not upward, upward


def test_no_import_of_the_package_hides_inside_a_function():
    hidden = [f"{m}:{line} imports {name}" for m in MODULES for name, line, inner in imports(m) if inner]
    assert not hidden, hidden


def test_the_engine_s_functions_fit_on_a_screen_and_the_command_is_small():
    long = []
    for m, path in MODULES.items():
        if m.startswith("gan_cli.engine"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.FunctionDef) and node.end_lineno - node.lineno + 1 > 60:
                    long.append(f"{m}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert not long, long
    assert len((PACKAGE / "train.py").read_text().splitlines()) < 300
    loop = next(
        n
        for n in ast.walk(ast.parse(MODULES["gan_cli.engine.loop"].read_text()))
        if getattr(n, "name", "") == "loop"
    )
    assert loop.end_lineno - loop.lineno + 1 <= 45  # the training loop reads on one screen


def test_the_step_never_names_a_trick():
    from gan_cli.tricks import HOOK_ORDER

    step = MODULES["gan_cli.engine.step"].read_text()
    named = [t for t in HOOK_ORDER if t in step]
    assert not named, named
