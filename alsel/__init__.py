"""alsel: offline active learning that decides which part of a labelled training set to fine-tune on.

Architecture: layers, lowest first; a module imports only from its own layer or a lower one
(tests/test_architecture.py checks it)::

    errors, io, params, progress, imports, ray_cluster -> data, models -> embed, scores, stats -> strategies
    -> loops -> learner, learners, report, decision_rule, study, export, result, api, run, labelling
    -> cli, cli_shared, cli_label, __main__, testing

Nor do imports go round in a cycle, within a layer or a package (the same test checks it).

The loop defines what it needs from a learner (:mod:`alsel.loops.learning`); :mod:`alsel.learners`
registers alsel's own with it when imported, as :mod:`alsel.run` and the names below do.

From Python: ``alsel.select(texts, labels, budget=0.1)`` returns a :class:`SelectionResult`;
``alsel.LabelProject`` labels a new pool batch by batch with the same loop. The names below load
on first use, so ``import alsel`` (and ``alsel --help``) stays free of torch.
"""

from importlib import import_module

__version__ = "0.1.0"

#: Public names and the module that defines each, imported when first asked for.
_LAZY = {
    "select": "alsel.api",
    "SelectionResult": "alsel.result",
    "RoundRecord": "alsel.result",
    "LoopConfig": "alsel.loops.config",
    "LabelProject": "alsel.labelling",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'alsel' has no attribute {name!r}")
    import_module("alsel.learners")  # registers the built-in learners, which a LoopConfig resolves
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
