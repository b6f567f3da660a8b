"""No import circles among the project's modules, and the packages stay layered (docs/design.md §2).

What is checked: every ``*.py`` file under each folder of ``[tool.setuptools].package-dir`` in
pyproject.toml (all five packages, every sub-package), parsed with :mod:`ast`. Every ``import`` and
``from ... import`` statement counts wherever it stands: module top, function bodies (deferred
imports), ``if TYPE_CHECKING:`` blocks, ``try`` blocks, relative or absolute; so are
``importlib.import_module("literal")`` calls. An import of ``a.b.c`` is an edge to the deepest
project module the name reaches (``from pkg import name`` goes to ``pkg.name`` when that is a module,
else to ``pkg`` itself). Not edges: the parent packages Python initialises on the way
(``import a.b`` runs ``a/__init__``; that is how every package works and is never a circle a reader
has to follow), and imports of anything outside the project.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules() -> dict[str, Path]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    out: dict[str, Path] = {}
    for name, folder in cfg["package-dir"].items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            parts = [name, *path.relative_to(base).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The deepest project module ``name`` reaches, or None for anything outside the project."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _targets(tree: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    package = module if is_package else module.rpartition(".")[0]
    found: set[str | None] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {_resolve(alias.name, modules) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = parts[: len(parts) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                found.add(sub if sub in modules else _resolve(source, modules))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(_resolve(node.args[0].value, modules))
    return {t for t in found if t is not None and t != module}


def import_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (the rules are in the module docstring)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        graph[module] = _targets(tree, module, path.name == "__init__.py", modules)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def _describe(graph: dict[str, set[str]], component: list[str]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def test_graph_covers_every_package_and_sees_deferred_imports():
    graph = import_graph()
    packages = {m.split(".")[0] for m in graph}
    assert packages == {"lhotse_wild", "wild_corpus", "verl_dgwgpo", "nemo_wild_eval", "wildasr"}
    # a deferred import inside a function is an edge (wild_corpus.asr resamples through synth)
    assert "wild_corpus.synth" in graph["wild_corpus.asr"]
    # relative imports resolve (rewards.py: ``from .reward_components import ...``)
    assert "verl_dgwgpo.reward_components" in graph["verl_dgwgpo.rewards"]


def test_the_cycle_finder_finds_a_planted_cycle():
    planted = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(planted) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_among_modules():
    graph = import_graph()
    found = _cycles(graph)
    assert not found, "import circles: " + " | ".join(_describe(graph, c) for c in found)


def test_packages_are_layered():
    # nemo_wild_eval <- wild_corpus <- lhotse_wild <- verl_dgwgpo <- wildasr: no package imports a later one
    order = ["nemo_wild_eval", "wild_corpus", "lhotse_wild", "verl_dgwgpo", "wildasr"]
    graph = import_graph()
    upward = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        for t in targets
        if order.index(t.split(".")[0]) > order.index(m.split(".")[0])
    )
    assert not upward, "imports against the layering: " + ", ".join(upward)


def test_no_shipped_module_imports_the_test_helpers():
    # verl_dgwgpo.testing is for tests and benchmarks; training/inference code uses verl_dgwgpo.tiny_models
    graph = import_graph()
    assert {"verl_dgwgpo.testing.rollout", "verl_dgwgpo.testing.sft", "verl_dgwgpo.tiny_models"} <= set(graph)
    users = sorted(
        f"{m} -> {t}"
        for m, targets in graph.items()
        if not m.startswith("verl_dgwgpo.testing")
        for t in targets
        if t.startswith("verl_dgwgpo.testing")
    )
    assert not users, "shipped modules importing test helpers: " + ", ".join(users)
