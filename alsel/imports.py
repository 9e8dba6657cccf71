"""Objects named ``module:attribute`` on the command line: user learners and strategies."""

from __future__ import annotations

import importlib

from .errors import ConfigError, first_line

__all__ = ["is_import_spec", "import_object"]


def is_import_spec(spec: str) -> bool:
    """Whether ``spec`` names an object in user code (``package.module:Class``) rather than a
    registered name."""
    return ":" in spec


def import_object(spec: str, option: str):
    """The object ``spec`` (``package.module:Attribute``) names, imported with importlib.

    Every failure (a malformed spec, a module that is missing or raises while importing, a
    missing attribute) is one :class:`ConfigError` line that starts with ``option spec:``.

    >>> import_object("collections:OrderedDict", "--learner").__name__
    'OrderedDict'
    """
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute or ":" in attribute or "/" in spec or ".." in spec:
        raise ConfigError(f"{option} {spec}: expected package.module:Class")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # a user's module may raise anything while importing
        raise ConfigError(f"{option} {spec}: cannot import module {module_name} ({first_line(exc)})") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(f"{option} {spec}: module {module_name} has no attribute {attribute}") from None
