"""Dependencies point one way: a module of alsel imports only from its own layer or a lower one.

The layers, lowest first (alsel/__init__.py's docstring states the same)::

    errors, io, params, progress, imports   utilities
    data, models                             what the data and a model name are
    embed, scores, stats                     arrays computed from them
    strategies                               acquisition functions and LoopState, their input
    loops                                    the round controller and the learner protocol
    learner, learners, report, study, export, result, api, run
    cli, __main__

The package root, ``alsel`` itself, holds the version and a lazy map of the public names; it
imports nothing from alsel when loaded, so any module may import ``__version__`` from it.
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
    ("errors", "io", "params", "progress", "imports"),
    ("data", "models"),
    ("embed", "scores", "stats"),
    ("strategies",),
    ("loops",),
    ("learner", "learners", "report", "study", "export", "result", "api", "run"),
    ("cli", "__main__"),
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


def test_the_docstring_states_the_layers():
    doc = " ".join(alsel.__doc__.split())
    assert " -> ".join(", ".join(names) for names in LAYERS) in doc


@pytest.mark.parametrize("name", ["transformer", "logreg"])
def test_the_loop_resolves_built_in_learners_without_importing_them_first(name):
    """The loop never imports a concrete learner: it names alsel's own by module:Class, so a
    process that imported nothing else still resolves them (no registration by side effect)."""
    code = f"from alsel.loops.learning import resolve_learner\nassert resolve_learner({name!r}).cls.__module__ == 'alsel.learners.{name}'\n"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)
