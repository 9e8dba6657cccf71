"""Dependencies point one way: a module of alsel imports only from its own layer or a lower one.

The layers, lowest first (alsel/__init__.py's docstring states the same)::

    errors, io, params, progress, imports, ray_cluster   utilities
    data, models                             what the data and a model name are
    embed, scores, stats                     arrays computed from them
    strategies                               acquisition functions and LoopState, their input
    loops                                    the round controller and the learner protocol
    learner, learners, report, decision_rule, study, export, result, api, run, labelling
    cli, cli_shared, cli_label, __main__, testing   the edge: the command line, and checks for plug-in authors

The package root, ``alsel`` itself, holds the version and a lazy map of the public names; it
imports nothing from alsel when loaded, so any module may import ``__version__`` from it.

Within a layer, and within a package, imports have no cycles either: no module imports itself
through others, at module level, inside a function or under ``TYPE_CHECKING`` (a cycle that
only a late import keeps from failing is still one: the two modules cannot be understood, or
moved, one without the other). Importing ``alsel.a.b`` from outside ``alsel.a`` also imports the
package ``alsel.a``, so it counts as importing both.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import alsel

PACKAGE = Path(alsel.__file__).parent

LAYERS = [
    ("errors", "io", "params", "progress", "imports", "ray_cluster"),
    ("data", "models"),
    ("embed", "scores", "stats"),
    ("strategies",),
    ("loops",),
    ("learner", "learners", "report", "decision_rule", "study", "export", "result", "api", "run", "labelling"),
    ("cli", "cli_shared", "cli_label", "__main__", "testing"),
]
LAYER_OF = {f"alsel.{name}": rank for rank, names in enumerate(LAYERS) for name in names}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int | None:
    """The layer of ``module`` or of the top-level module or package it is part of."""
    top = ".".join(module.split(".")[:2])
    return LAYER_OF.get(top)


def is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (PACKAGE / relative).with_suffix(".py").is_file() or (PACKAGE / relative / "__init__.py").is_file()


def alsel_imports(source: str, module: str, is_package: bool) -> list[tuple[int, str]]:
    """``(line, imported module)`` for every import of alsel in ``source``, at module level or
    inside a function; ``from X import name`` counts as importing ``X.name`` where that is a module."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "alsel"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "alsel":
                continue
            for alias in node.names:
                found.append((node.lineno, f"{target}.{alias.name}" if is_module(f"{target}.{alias.name}") else target))
    return list(dict.fromkeys(found))  # one entry per module named in an import statement


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    own = layer(module)
    out = []
    for line, target in alsel_imports(source, module, is_package):
        if target == "alsel":
            continue  # the root: see the module docstring
        theirs = layer(target)
        if theirs is None:
            out.append(f"{module}:{line} imports {target}, which has no layer")
        elif theirs > own:
            out.append(f"{module}:{line} imports {target} (layer {theirs}) from layer {own}")
    return out


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


def imported(target: str, importer: str) -> list[str]:
    """What importing ``target`` from ``importer`` runs: ``target`` and each package above it
    that does not hold ``importer`` (whose own package is already loaded); never the root."""
    parts = target.split(".")
    chain = [".".join(parts[:i]) for i in range(2, len(parts) + 1)]
    return [m for m in chain if not importer.startswith(m + ".")]


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    """Module -> the modules of ``sources`` it imports; ``sources`` maps each module name to its
    source and whether it is a package's ``__init__``."""
    graph = {}
    for module, (source, is_package) in sources.items():
        targets = {m for _, target in alsel_imports(source, module, is_package) for m in imported(target, module)}
        graph[module] = {t for t in targets if t in sources and t != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle, as the path ``[a, b, ..., a]``, through each group of modules that import each
    other (a strongly connected component with more than one module)."""
    reach = {m: _reachable(graph, m) for m in graph}
    groups = {frozenset(n for n in reach[m] if m in reach[n]) for m in graph if m in reach[m]}
    return sorted(_cycle_through(graph, min(group), group) for group in groups)


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module reached from ``start`` by one import or more."""
    seen, todo = set(), list(graph[start])
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph[m]
    return seen


def _cycle_through(graph: dict[str, set[str]], start: str, group: frozenset) -> list[str]:
    """The shortest path from ``start`` back to itself inside ``group`` (breadth-first)."""
    paths, seen = [[start]], set()
    while paths:
        path = paths.pop(0)
        for m in sorted(graph[path[-1]] & group):
            if m == start:
                return path + [start]
            if m not in seen:
                seen.add(m)
                paths.append(path + [m])
    raise AssertionError(f"{start} is in no cycle")  # unreachable: the group is strongly connected


def alsel_sources() -> dict[str, tuple[str, bool]]:
    return {module_name(p): (p.read_text(), p.name == "__init__.py") for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_module_imports_only_its_own_layer_or_lower(path):
    module = module_name(path)
    if module == "alsel":
        assert alsel_imports(path.read_text(), module, True) == [], "the package root must import nothing from alsel"
        return
    assert layer(module) is not None, f"{module} has no layer: add it to LAYERS here and to alsel/__init__.py's docstring"
    assert violations(path.read_text(), module, path.name == "__init__.py") == []


def test_the_check_catches_an_upward_import():
    assert violations("from ..loops.controller import run_loop\n", "alsel.strategies.fake") == [
        "alsel.strategies.fake:1 imports alsel.loops.controller (layer 4) from layer 3"
    ]
    assert violations("def f():\n    from alsel import learners\n", "alsel.loops.fake") == [
        "alsel.loops.fake:2 imports alsel.learners (layer 5) from layer 4"
    ]
    assert violations("from .. import __version__\nfrom ..scores import margin\n", "alsel.strategies.fake") == []


def test_no_module_imports_itself_through_others():
    found = cycles(import_graph(alsel_sources()))
    assert found == [], "import cycles: " + "; ".join(" -> ".join(c) for c in found)


def test_the_check_catches_a_cycle():
    """Two modules of one package, one importing the other only inside a function: a cycle; the
    same import of a third module that imports neither: none."""
    sources = {
        "alsel.study.a": ("from .b import run\n", False),
        "alsel.study.b": ("def run():\n    import alsel.study.a\n", False),
        "alsel.study.c": ("import numpy\n", False),
    }
    assert cycles(import_graph(sources)) == [["alsel.study.a", "alsel.study.b", "alsel.study.a"]]
    sources["alsel.study.b"] = ("def run():\n    import alsel.study.c\n", False)
    assert cycles(import_graph(sources)) == []


def test_the_check_counts_the_package_a_module_imports_through():
    """``from alsel.x.m import f`` runs ``alsel/x/__init__.py`` too: a package that imports its
    importer back makes a cycle; a module importing a sibling does not import its own package."""
    sources = {
        "alsel.x": ("from alsel.y import f\n", True),
        "alsel.x.m": ("from .n import g\n", False),
        "alsel.x.n": ("", False),
        "alsel.y": ("from alsel.x.m import g\n", False),
    }
    assert cycles(import_graph(sources)) == [["alsel.x", "alsel.y", "alsel.x"]]
    sources["alsel.y"] = ("", False)
    assert cycles(import_graph(sources)) == []


def test_the_docstring_states_the_layers():
    doc = " ".join(alsel.__doc__.split())
    assert " -> ".join(", ".join(names) for names in LAYERS) in doc


@pytest.mark.parametrize("name", ["transformer", "logreg"])
def test_the_loop_resolves_built_in_learners_without_importing_them_first(name):
    """The loop never imports a concrete learner: it names alsel's own by module:Class, so a
    process that imported nothing else still resolves them (no registration by side effect)."""
    code = f"from alsel.loops.learning import resolve_learner\nassert resolve_learner({name!r}).cls.__module__ == 'alsel.learners.{name}'\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
