"""alsel: offline active learning that decides which part of a labelled training set to fine-tune on.

Architecture, one direction of dependency::

    data -> embed / scores -> strategies -> loops -> learner -> api / report -> cli

From Python: ``alsel.select(texts, labels, budget=0.1)`` returns a :class:`SelectionResult`. The
names below load on first use, so ``import alsel`` (and ``alsel --help``) stays free of torch.
"""

from importlib import import_module

__version__ = "0.1.0"

#: Public names and the module that defines each, imported when first asked for.
_LAZY = {
    "select": "alsel.api",
    "SelectionResult": "alsel.result",
    "RoundRecord": "alsel.result",
    "LoopConfig": "alsel.loops.config",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'alsel' has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
