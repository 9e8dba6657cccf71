"""What the commands share: rich progress at the edge, and flags generated from
:class:`~alsel.loops.config.LoopConfig`'s own declarations (``alsel loop`` and ``alsel label init``
offer the same options with the same help)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection
from contextlib import contextmanager

import click

from .errors import AlselError

__all__ = ["console", "rich_progress", "loop_options", "preset_option", "key_values", "strategy_options"]


# ------------------------------------------------------------------ rich at the edge
def console():
    from rich.console import Console

    return Console(stderr=True, log_path=False)


def rich_progress():
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichBar, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    from .progress import Progress

    class RichProgress(Progress):
        def __init__(self):
            self.console = console()
            self.bar = RichBar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )

        @contextmanager
        def task(self, description, total):
            task = self.bar.add_task(description, total=total)
            self.bar.start()
            try:
                yield lambda n=1: self.bar.advance(task, n)
            finally:
                self.bar.remove_task(task)
                if not self.bar.tasks:
                    self.bar.stop()

        def log(self, message):
            self.console.log(message)

    return RichProgress()


# ------------------------------------------------------------------ options from LoopConfig
def loop_options(names: Collection[str] | None = None):
    """A decorator adding one flag per LoopConfig field (those in ``names``; default every field
    but the preset and the option dicts), typed (and ranged) by the field's own declaration, its
    help from the field. Every flag defaults to None (not given: the config file, preset or
    LoopConfig decides), so ``--help`` states LoopConfig's value in the help text (click's
    ``show_default`` would show the None it passes): that of a loop shaped on the command line,
    whose unset options are not the recommended preset's (the command's help names that one)."""
    from .loops.config import LoopConfig, option_constraints
    from .loops.presets import OWN_LOOP_DEFAULTS

    constraints = option_constraints()
    defaults = LoopConfig(init=OWN_LOOP_DEFAULTS["init"])
    chosen = (
        [f for f in dataclasses.fields(LoopConfig) if f.name in names]
        if names is not None
        else [f for f in dataclasses.fields(LoopConfig) if f.name not in ("preset", "strategy_options", "learner_options")]
    )

    def decorate(func):
        for f in reversed(chosen):
            flag = "--" + f.name.replace("_", "-")
            kind = _click_type(constraints[f.name])
            decl = f"{flag}/--no-{flag[2:]}" if kind is bool else flag
            help_text = f.metadata.get("help", "") + _shown_default(f.name, getattr(defaults, f.name))
            func = click.option(decl, f.name, type=None if kind is bool else kind, default=None, help=help_text)(func)
        return func

    return decorate


def _click_type(constraints: tuple):
    """The click type of an option that accepts ``constraints`` (``None``, "not given", aside):
    ``bool`` for a flag; a string for anything looser than one number type or one choice."""
    from .params import Choice, Flag, Integer, Real

    (only, *more) = [c for c in constraints if c is not None]
    if more:
        return click.STRING
    if isinstance(only, Flag):
        return bool
    if isinstance(only, Choice):
        return click.Choice(only.values)
    if isinstance(only, (Integer, Real)):
        r = only.range
        kind: Callable[..., click.ParamType] = click.IntRange if isinstance(only, Integer) else click.FloatRange
        return kind(min=r.low, max=r.high, min_open=r.closed in ("right", "neither"), max_open=r.closed in ("left", "neither"))
    return click.STRING


def _shown_default(name: str, value) -> str:
    """A flag's default as ``--help`` shows it; a None default is described by its help."""
    if value is None:
        return ""
    if isinstance(value, bool):
        value = ("--" if value else "--no-") + name.replace("_", "-")
    return f"  [default: {value}]"


def preset_option(func):
    from .loops.config import LoopConfig
    from .loops.presets import PRESETS

    help_text = next(f.metadata["help"] for f in dataclasses.fields(LoopConfig) if f.name == "preset")
    return click.option("--preset", type=click.Choice(list(PRESETS)), default=None, help=help_text)(func)


def key_values(pairs, flag: str) -> dict:
    """``KEY=VALUE`` pairs as a dict, each value read as YAML (``3`` an int, ``1e-3`` a number)."""
    import yaml

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint=flag)
        options[key.replace("-", "_")] = yaml.safe_load(value)
    return options


def strategy_options(pairs, projection_dim, region) -> dict | None:
    options = key_values(pairs, "--strategy-option")
    if projection_dim is not None and projection_dim < 0:
        raise AlselError(f"--projection-dim {projection_dim}: give a projection size, or 0 for none")
    if projection_dim is not None:
        options["projection_dim"] = None if projection_dim == 0 else projection_dim
    if region is not None:
        options["region"] = region
    return options or None
