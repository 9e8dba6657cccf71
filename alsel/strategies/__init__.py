"""Acquisition functions, one per module, and :class:`LoopState`, what they read. Every module
here is imported, so its ``@register`` runs: adding a strategy means adding one file."""

import importlib
import pkgutil

from .base import (
    PLUGINS,
    STRATEGIES,
    ScoreStrategy,
    Selection,
    Strategy,
    can_choose_initial_pool,
    get_strategy,
    initial_pool_refusal,
    plugin_names,
    register,
    resolve_strategy_class,
)
from .state import LoopState

for _module in pkgutil.iter_modules(__path__):
    if _module.name not in ("base", "state"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "PLUGINS",
    "STRATEGIES",
    "Selection",
    "ScoreStrategy",
    "Strategy",
    "LoopState",
    "can_choose_initial_pool",
    "get_strategy",
    "initial_pool_refusal",
    "plugin_names",
    "register",
    "resolve_strategy_class",
]
