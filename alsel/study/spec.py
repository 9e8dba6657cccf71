"""The study file's schema: its own keys (:class:`StudySpec`) and its strategies
(:class:`StrategySpec`); every other key is a loop option every run shares.

Which loop options exist, which a strategy may set (the ``selection`` and ``learner`` groups) and
which name files are declared once, on :class:`~alsel.loops.config.LoopConfig`; the study only
adds its grid axes (budget and seed), which no strategy or shared option may set. A strategy may
name its own ``budgets`` (a budget curve for a few strategies, one budget for the rest).
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from ..errors import ConfigError
from ..loops.config import option_constraints, options as option_names, parse_budget
from ..loops.presets import PRESETS
from ..params import Integer, Range, check
from ..ray_cluster import EXECUTOR_CHOICES

__all__ = [
    "StrategySpec",
    "StudySpec",
    "STUDY_KEYS",
    "AXIS_KEYS",
    "STRATEGY_GROUPS",
    "FULL_PRESET",
    "EXECUTOR_NAMES",
    "as_list",
    "strategy_names",
    "unique",
]

#: Options that are grid axes and so not set by hand.
AXIS_KEYS = frozenset({"budget", "seed"})
#: Option groups a strategy may set: how it selects, and which learners score the rounds and
#: train the final model (a cheap proxy in the rounds differs from a loop only there).
STRATEGY_GROUPS = ("selection", "learner")
#: The preset that trains on the whole pool: one run per seed, whatever the budgets.
FULL_PRESET = "full"
#: The values of a study file's ``executor`` (the names a loop's ``--executor`` takes too);
#: :data:`alsel.study.executors.EXECUTORS` maps each to the function that runs a study's runs that
#: way (a test keeps the two equal).
EXECUTOR_NAMES = EXECUTOR_CHOICES
DEFAULT_BUDGETS = (0.1,)
DEFAULT_SEEDS = (0, 1, 2)

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- values


def as_list(value, what: str) -> list:
    """A YAML list, a single value, or a comma-separated string (as a CLI passes it)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (int, float)):
        return [value]
    raise ConfigError(f"{what}: expected a list, got {type(value).__name__}")


def unique(values) -> list:
    """``values`` without repeats, in first-seen order."""
    return list(dict.fromkeys(values))


def _parse_seed(value) -> int:
    """A seed as LoopConfig accepts it; a CLI passes it as a string."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError):  # check names the bad value
            value = int(value.strip())
    return check("seed", value, option_constraints()["seed"])


def _parse_budgets(value, where: str) -> list:
    budgets = unique(parse_budget(b) for b in as_list(value, "budgets"))
    if not budgets:
        raise ConfigError(f"{where}: no budgets")
    return budgets


def _parse_seeds(value, where: str) -> list[int]:
    seeds = unique(_parse_seed(s) for s in as_list(value, "seeds"))
    if not seeds:
        raise ConfigError(f"{where}: no seeds")
    return seeds


def _study_name(name, where: str) -> str:
    """The study's name: one folder name, since ``studies/<name>`` is its directory without
    ``--out`` (``../x`` or ``a/b`` would put it elsewhere)."""
    name = str(name)
    if name in (".", "..") or any(sep in name for sep in ("/", "\\")) or not name.strip():
        raise ConfigError(f"{where}: study name {name!r} must be one folder name (no '/', '\\', '.' or '..'): it names studies/<name>")
    return name


# --------------------------------------------------------------------------- strategies


@dataclass(frozen=True)
class StrategySpec:
    """One compared strategy: a preset and/or selection and learner options.

    Attributes
    ----------
    name : str
        The name in the study (a directory name under ``runs/``).
    preset : str or None
    options : dict
        Selection and learner options on top of the preset (LoopConfig's ``selection`` and
        ``learner`` groups).
    budgets : list or None
        This strategy's budgets; None: the study's.
    """

    name: str
    preset: str | None = None
    options: dict = field(default_factory=dict)
    budgets: list | None = None

    @property
    def is_full(self) -> bool:
        """Trains on the whole pool: one run per seed, whatever the budgets."""
        return self.preset == FULL_PRESET

    def to_dict(self) -> dict:
        own = {} if self.budgets is None else {"budgets": list(self.budgets)}
        return {"preset": self.preset, "options": dict(self.options), **own}

    @classmethod
    def parse(cls, name: str, spec, where: str) -> StrategySpec:
        """``spec`` as a study file writes it: None (the preset ``name``), a preset name, or a
        mapping of selection and learner options with an optional ``preset`` and ``budgets``."""
        if not _NAME.match(name):
            raise ConfigError(f"{where}: strategy name {name!r} must be letters, digits, '_', '-' or '.' (it names a folder)")
        if spec is None:
            spec = {"preset": name}
        elif isinstance(spec, str):
            spec = {"preset": spec}
        elif not isinstance(spec, dict):
            raise ConfigError(f"{where}: strategy {name!r} must be a preset name or a mapping of options")
        spec = dict(spec)
        preset = spec.pop("preset", None)
        budgets = spec.pop("budgets", None)
        if budgets is not None:
            if preset == FULL_PRESET:
                raise ConfigError(f"{where}: strategy {name!r} trains on the whole pool; it takes no budgets")
            budgets = _parse_budgets(budgets, f"{where}: strategy {name!r}")
        if preset is not None and preset not in PRESETS:
            raise ConfigError(f"{where}: strategy {name!r}: unknown preset {preset!r}; choose one of: {', '.join(PRESETS)}")
        _check_strategy_options(name, spec, where)
        if preset is None and not spec:
            raise ConfigError(f"{where}: strategy {name!r} is empty; give a preset or loop options")
        return cls(name=name, preset=preset, options=spec, budgets=budgets)


def _check_strategy_options(name: str, spec: dict, where: str) -> None:
    """A strategy sets how it selects and which learners it uses, never the grid axes, the data
    or how a model trains."""
    unknown = sorted(set(spec) - set(option_names()))
    if unknown:
        raise ConfigError(f"{where}: strategy {name!r}: unknown option {', '.join(unknown)}")
    axis = sorted(set(spec) & AXIS_KEYS)
    if axis:
        raise ConfigError(f"{where}: strategy {name!r} sets {', '.join(axis)}; set budgets and seeds for the whole study")
    training = sorted(set(spec) - {name for group in STRATEGY_GROUPS for name in option_names(group)})
    if training:
        raise ConfigError(
            f"{where}: strategy {name!r} sets {', '.join(training)}; set data and training options at the study level "
            "so every strategy trains the same way (runs with the same seed are compared in pairs)"
        )


def _parse_strategies(raw, where: str) -> dict[str, StrategySpec]:
    if isinstance(raw, (list, tuple)):
        raw = {name: None for name in raw}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: `strategies` must map names to presets or loop specs, e.g. {{random: {{preset: random}}}}")
    return {str(name): StrategySpec.parse(str(name), spec, where) for name, spec in raw.items()}


def strategy_names(wanted) -> list[str]:
    """The strategy names in ``wanted`` (``--strategies``: a list or comma-separated), each once."""
    return unique(str(s) for s in as_list(wanted, "--strategies"))


def _choose_strategies(strategies: dict[str, StrategySpec], wanted, path: Path) -> dict[str, StrategySpec]:
    """The strategies named in ``wanted`` (list or comma-separated), in config order."""
    names = strategy_names(wanted)
    unknown = [s for s in names if s not in strategies]
    if unknown:
        raise ConfigError(f"unknown strategy {', '.join(map(repr, unknown))} for {path.name}; valid: {', '.join(strategies)}")
    if not names:
        raise ConfigError(f"no strategies selected; valid: {', '.join(strategies)}")
    return {name: spec for name, spec in strategies.items() if name in names}


# --------------------------------------------------------------------------- the study file


@dataclass(frozen=True, kw_only=True)
class StudySpec:
    """The keys of a study file that are not loop options, read and validated.

    Attributes
    ----------
    name : str
        Default: the file's stem.
    strategies : dict of str to StrategySpec
        In config order.
    budgets : list of float or int
    seeds : list of int
    out : str or None
        The study directory.
    executor : {"local", "ray"}
    address : str or None
        A Ray cluster address; ``None`` starts a local Ray.
    cpus_per_run : int or None
        CPUs a Ray task asks for on a cluster without GPUs; ``None``: all of one node's.
    description : str or None
    """

    name: str
    strategies: dict[str, StrategySpec]
    budgets: list = field(default_factory=lambda: list(DEFAULT_BUDGETS))
    seeds: list = field(default_factory=lambda: list(DEFAULT_SEEDS))
    out: str | None = None
    executor: str = "local"
    address: str | None = None
    cpus_per_run: int | None = None
    description: str | None = None

    @classmethod
    def read(cls, raw: dict, path: Path, *, chosen=None, overrides=frozenset()) -> StudySpec:
        """The study keys of ``raw`` (a study file's mapping, overrides applied), keeping only
        the ``chosen`` strategies (list or comma-separated names) if given; ``overrides`` names
        the keys a command line replaced."""
        where = str(path)
        if "strategies" not in raw:
            raise ConfigError(f"{where}: no `strategies`; name the strategies to compare, e.g. {{random: {{preset: random}}}}")
        strategies = _parse_strategies(raw["strategies"], where)
        if chosen is not None:
            strategies = _choose_strategies(strategies, chosen, path)
        budgets = _parse_budgets(raw.get("budgets", list(DEFAULT_BUDGETS)), where)
        if "budgets" in overrides:  # the command line's budgets replace the strategies' own too
            strategies = {name: replace(spec, budgets=None) for name, spec in strategies.items()}
        seeds = _parse_seeds(raw.get("seeds", list(DEFAULT_SEEDS)), where)
        executor = raw.get("executor") or "local"
        if executor not in EXECUTOR_NAMES:
            raise ConfigError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTOR_NAMES)}")
        cpus = check(f"{where}: cpus_per_run", raw.get("cpus_per_run"), (Integer(Range(1)), None))
        return cls(
            name=_study_name(raw.get("name") or path.stem, where),
            strategies=strategies,
            budgets=budgets,
            seeds=seeds,
            out=raw.get("out"),
            executor=executor,
            address=raw.get("address"),
            cpus_per_run=cpus,
            description=raw.get("description"),
        )


#: Keys of a study file that are not loop options: the fields of :class:`StudySpec`.
STUDY_KEYS = frozenset(f.name for f in fields(StudySpec))
