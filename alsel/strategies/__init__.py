"""Acquisition functions, one per module. Every module here is imported, so its ``@register``
runs: adding a strategy means adding one file."""

import importlib
import pkgutil

from .base import PLUGINS, STRATEGIES, Selection, ScoreStrategy, Strategy, get_strategy, plugin_names, register, resolve_strategy_class

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["PLUGINS", "STRATEGIES", "Selection", "ScoreStrategy", "Strategy", "get_strategy", "plugin_names", "register", "resolve_strategy_class"]
