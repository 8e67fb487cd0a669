"""The layering rules of ARCHITECTURE.md, checked on the source: arrows point down only.

- no import cycle inside a package when its modules load (imports under ``if
  TYPE_CHECKING:`` are for types only, and one inside a function, such as a factory that
  picks an implementation, runs later: neither counts);
- the sandbox imports none of intercom_api, tap_intercom, target_intercom (a
  misunderstanding of the API must not be shared by the client and the fake);
- intercom_api imports neither plugin; the plugins do not import each other;
- no module over 600 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = (
    "intercom_api",
    "tap_intercom",
    "target_intercom",
    "intercom_sandbox",
    "intercom_webhooks",
)


def modules(package: str) -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        name = ".".join(rel.parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def runtime_imports(path: Path, *, lazy: bool = True) -> set[str]:
    """Modules imported when ``path`` runs (not those under ``if TYPE_CHECKING:``); with
    ``lazy`` False, only those imported when the module loads (not inside functions)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and _type_checking(node):
                visit(node.orelse)
                continue
            if not lazy and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    visit([child])

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


def graph(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the package it imports at run time. A package's
    ``__init__`` only re-exports: ``from pkg import errors`` is an edge to ``pkg.errors``."""
    mods = modules(package)
    inits = {name for name, p in mods.items() if p.name == "__init__.py"}
    return {
        name: {
            m for m in runtime_imports(p, lazy=False) if m in mods and m != name and m not in inits
        }
        for name, p in mods.items()
    }


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_cycle(package: str) -> None:
    edges = graph(package)
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                dfs(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            dfs(node)


FORBIDDEN = {
    "intercom_sandbox": ("intercom_api", "tap_intercom", "target_intercom"),
    "intercom_api": ("tap_intercom", "target_intercom", "intercom_sandbox"),
    "tap_intercom": ("target_intercom", "intercom_sandbox"),
    "target_intercom": ("tap_intercom", "intercom_sandbox"),
    "intercom_webhooks": ("tap_intercom", "target_intercom", "intercom_sandbox"),
}


@pytest.mark.parametrize("package", PACKAGES)
def test_arrows_point_down(package: str) -> None:
    bad = []
    for name, path in modules(package).items():
        for imported in runtime_imports(path):
            if imported.split(".")[0] in FORBIDDEN[package]:
                bad.append(f"{name} imports {imported}")
    assert not bad, bad


def test_no_module_over_600_lines() -> None:
    long = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            n = len(path.read_text(encoding="utf-8").splitlines())
            if n > 600:
                long.append(f"{path.relative_to(ROOT)}: {n} lines")
    assert not long, long
