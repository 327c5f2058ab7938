"""The tree keeps the shape the README describes: no import cycle in the core, small modules, tests mirroring it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 400
LINTED = ["latent", "indexer", "service", "migrations", "tests", "bench", "client"]


def import_cycles(graph: grimp.ImportGraph, package: str) -> list[list[str]]:
    """Groups of `package`'s modules that import each other (Tarjan's strongly connected components)."""
    inside = sorted(m for m in graph.modules if m == package or m.startswith(package + "."))
    members = set(inside)
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        order[module] = low[module] = len(order)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module) & members:
            if imported not in order:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], order[imported])
        if low[module] == order[module]:
            group = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                group.append(top)
                if top == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(inside)))
    try:
        for module in inside:
            if module not in order:
                visit(module)
    finally:
        sys.setrecursionlimit(limit)
    return cycles


def test_the_finder_sees_a_cycle() -> None:
    """The check below proves something: a two-module cycle is found."""
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")
    assert import_cycles(graph, "pkg") == [["pkg.a", "pkg.b"]]


def test_no_import_cycle_inside_the_core() -> None:
    """Typing-only imports count too: a cycle there still tangles what a reader must hold in mind."""
    graph = grimp.build_graph("latent", exclude_type_checking_imports=False)
    assert import_cycles(graph, "latent") == []


@pytest.mark.parametrize("package", ["latent", "service", "indexer"])
def test_no_module_is_over_the_line_limit(package: str) -> None:
    sizes = {p: len(p.read_text().splitlines()) for p in (REPO / package).rglob("*.py")}
    too_long = {str(p.relative_to(REPO)): n for p, n in sizes.items() if n > MAX_LINES}
    assert too_long == {}, f"split these (limit {MAX_LINES} lines)"


def test_core_tests_mirror_the_core_packages() -> None:
    packages = {p.parent.name for p in (REPO / "latent").glob("*/__init__.py")}
    mirrored = {p.name for p in (REPO / "tests" / "latent").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert packages <= mirrored, f"no tests/latent/ folder for {sorted(packages - mirrored)}"


@pytest.mark.parametrize(
    "command",
    [
        ["ruff", "check", *LINTED],
        ["ruff", "format", "--check", *LINTED],
        ["lint-imports"],
    ],
    ids=["ruff-check", "ruff-format", "import-contracts"],
)
def test_make_lint_is_green(command: list[str]) -> None:
    """What `make lint` runs, so CI keeps it green: style, formatting and the import-linter contracts."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name(command[0])), *command[1:]], cwd=REPO, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
