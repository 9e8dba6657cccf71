"""From a study file to its grid: :func:`load_study` reads the file and its overrides into a
:class:`Study`, whose :meth:`~Study.runs` are the cells (:class:`RunSpec`), each with the loop
options its :class:`~alsel.loops.config.LoopConfig` is built from; :func:`validate_runs` builds
them all before anything runs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import AlselError, ConfigError
from ..io import read_yaml_mapping
from ..loops.config import LoopConfig, budget_label, options as option_names
from .layout import run_path
from .spec import AXIS_KEYS, STUDY_KEYS, StrategySpec, StudySpec, unique

__all__ = ["RunSpec", "Study", "load_study", "validate_runs"]


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid.

    Attributes
    ----------
    strategy : str
    budget : float or int
        1.0 for a ``full`` strategy.
    seed : int
    preset : str or None
    options : dict
        The loop options of this run (shared options, the strategy's, budget and seed), without
        the preset: ``LoopConfig.from_options(preset=preset, **options)`` builds its config.
    rel_dir : str
        ``runs/<strategy>/budget-<b>/seed-<s>``, relative to the study directory.
    """

    strategy: str
    budget: float | int
    seed: int
    preset: str | None
    options: dict
    rel_dir: str

    @property
    def label(self) -> str:
        return f"{self.strategy} budget={budget_label(self.budget)} seed={self.seed}"

    def loop_config(self) -> LoopConfig:
        """The run's :class:`~alsel.loops.config.LoopConfig` (defaults < preset < options)."""
        return LoopConfig.from_options(preset=self.preset, **self.options)

    def to_dict(self) -> dict:
        return {
            "strategy": self.strategy,
            "budget": self.budget,
            "seed": self.seed,
            "preset": self.preset,
            "run_dir": self.rel_dir,
            "options": dict(self.options),
        }


@dataclass(frozen=True, kw_only=True)
class Study(StudySpec):
    """A loaded and validated study config with its overrides applied: the study file's keys
    (:class:`~alsel.study.spec.StudySpec`) and where and with which shared options it runs.

    Attributes
    ----------
    study_dir : Path
        Absolute.
    options : dict
        Loop options every run shares.
    config_path : Path or None
    """

    study_dir: Path
    options: dict
    config_path: Path | None = None

    def runs(self) -> list[RunSpec]:
        """The grid, seed by seed (so an early stop still leaves complete pairs), then budget
        (the study's, then the strategies' own, in first-seen order), then strategy in config
        order; a ``full`` strategy once per seed."""
        specs = []
        for seed in self.seeds:
            for i, budget in enumerate(self.all_budgets()):
                for strategy in self.strategies.values():
                    if strategy.is_full:
                        if i == 0:
                            specs.append(self._run(strategy, 1.0, seed))
                    elif budget in self.budgets_of(strategy):
                        specs.append(self._run(strategy, budget, seed))
        return specs

    def budgets_of(self, strategy: StrategySpec) -> list:
        """The budgets ``strategy`` runs at: its own, else the study's."""
        return self.budgets if strategy.budgets is None else strategy.budgets

    def all_budgets(self) -> list:
        """Every budget some strategy runs at."""
        return unique([*self.budgets, *(b for s in self.strategies.values() if not s.is_full for b in self.budgets_of(s))])

    def _run(self, strategy: StrategySpec, budget, seed: int) -> RunSpec:
        options = {**self.options, **strategy.options, "seed": seed}
        if not strategy.is_full:  # the preset sets the whole pool
            options["budget"] = budget
        return RunSpec(
            strategy=strategy.name,
            budget=budget,
            seed=seed,
            preset=strategy.preset,
            options=options,
            rel_dir=run_path(strategy.name, budget, seed),
        )

    def to_record(self, runs: list[RunSpec] | None = None) -> dict:
        """What ``study.json`` holds."""
        return {
            "name": self.name,
            "description": self.description,
            "config_path": str(self.config_path) if self.config_path else None,
            "alsel": __version__,
            "options": dict(self.options),
            "strategies": {name: spec.to_dict() for name, spec in self.strategies.items()},
            "budgets": self.all_budgets(),
            "seeds": list(self.seeds),
            "executor": self.executor,
            "runs": [r.to_dict() for r in (self.runs() if runs is None else runs)],
        }


# --------------------------------------------------------------------------- shared options


def _check_shared(values: dict, source: str) -> None:
    unknown = sorted(set(values) - set(option_names()))
    if unknown:
        raise ConfigError(f"{source}: unknown option {', '.join(unknown)}")
    fixed = sorted(set(values) & (AXIS_KEYS | {"preset"}))
    if fixed:
        raise ConfigError(f"{source}: {', '.join(fixed)} cannot be a shared option; use budgets, seeds and strategies")
    if values.get("save_model") is not None:
        raise ConfigError(f"{source}: save_model would have every run write one folder; save a run's model with alsel loop --save-model")


def with_absolute_paths(options: dict) -> dict:
    """``options`` with the paths to existing files or folders (and the cache) made absolute,
    for workers that may not share this process's working directory (Ray); names of bundled or
    hub data sets stay as they are. The study itself keeps paths as written, so its record and
    its runs' configs name no folder of this machine and the study can move with its data."""
    options = dict(options)
    for key in option_names(paths=True):
        value = options.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "dataset" and (value == "sst2" or value.startswith("hf:")):
            continue
        path = Path(value).expanduser()
        if key == "cache_dir" or path.exists():
            options[key] = str(path.resolve())
    return options


def _shared_options(raw: dict, overrides: dict, where: str) -> dict:
    """The loop options of ``raw`` (the keys that are not the study's) with ``overrides``."""
    in_file = {k: v for k, v in raw.items() if k not in STUDY_KEYS}
    for source, values in ((where, in_file), ("overrides", overrides)):
        _check_shared(values, source)
    shared = {**in_file, **overrides}
    LoopConfig(**shared)  # checks each value against the option's declared constraints
    return shared


# --------------------------------------------------------------------------- loading


def load_study(
    config_path,
    *,
    limit: int | None = None,
    seeds=None,
    strategies=None,
    budgets=None,
    out=None,
    executor: str | None = None,
    address: str | None = None,
    options: dict | None = None,
) -> Study:
    """Read and validate a study config and apply overrides.

    Parameters
    ----------
    config_path : path
        The study's YAML file.
    limit : int, optional
        Override of the pool size (``limit`` of every run).
    seeds, budgets : list or comma-separated str, optional
        Replace the config's seeds / budgets (``budgets`` also each strategy's own).
    strategies : list or comma-separated str, optional
        Run only these of the config's strategies (in config order); an unknown name raises
        :class:`~alsel.errors.ConfigError` naming the valid ones.
    out : path, optional
        The study directory; default the config's ``out``, else ``studies/<config name>``.
    executor : {"local", "ray"}, optional
    address : str, optional
        Ray cluster address (implies nothing unless the executor is ``ray``).
    options : dict, optional
        Overrides of shared loop options (``None`` values are ignored).

    Returns
    -------
    Study
    """
    path = Path(config_path)
    raw = read_yaml_mapping(path, "a mapping with strategies, budgets, seeds and shared options")
    # Overrides of the study's own keys replace the file's before reading: one path validates both.
    given = {"budgets": budgets, "seeds": seeds, "out": out, "executor": executor, "address": address}
    given = {k: v for k, v in given.items() if v is not None}
    spec = StudySpec.read({**raw, **given}, path, chosen=strategies, overrides=frozenset(given))
    overrides = {k: v for k, v in (options or {}).items() if v is not None}
    if limit is not None:
        overrides["limit"] = limit
    return Study(
        **vars(spec),
        study_dir=Path(spec.out or Path("studies") / spec.name).expanduser().resolve(),
        options=_shared_options(raw, overrides, str(path)),
        config_path=path,
    )


def validate_runs(runs: list[RunSpec]) -> None:
    """Build (and resolve) every run's config before anything runs, so a typo fails at once.
    Runs differing only in their seed share a check."""
    seen = set()
    for run in runs:
        key = (run.strategy, run.preset, repr(sorted((k, repr(v)) for k, v in run.options.items() if k != "seed")))
        if key in seen:
            continue
        seen.add(key)
        try:
            run.loop_config().resolved()
        except AlselError as exc:
            raise ConfigError(f"strategy {run.strategy!r}: {exc}") from None
