"""A study: every strategy x budget x seed as one loop run, each in its own run directory.

A study config (YAML) names the strategies to compare, the budgets and the seeds, and the options
every run shares::

    name: sst2-study
    dataset: sst2
    model: modernbert-base
    strategies:
      random: {preset: random}
      kmeans: {preset: kmeans}
      low_conf_r4: {init: random, acq: low_conf, rounds: 4}
    budgets: [0.1]
    seeds: [0, 1, 2]

A strategy is a preset name (``random: random``, or ``random:`` for the preset of the same name),
``{preset: NAME}``, or a loop spec of selection options (``init``, ``acq``, ``rounds``, ...).
Training and data options are study-level only: every run with seed ``s`` fine-tunes the same
model the same way, so runs of different strategies with the same seed form a pair (see
:mod:`alsel.stats`). A strategy whose preset is ``full`` trains on the whole pool, so it runs
once per seed, recorded as budget 1.0.

Layout of the study directory::

    study.json                                 # the resolved grid and options
    runs/<strategy>/budget-<b>/seed-<s>/       # one `alsel loop` run directory each
        config.json rounds.jsonl selection.jsonl metrics.json [error.txt]

Re-running a study skips finished runs (``metrics.json`` exists) and resumes interrupted ones
(also a finished one whose ``metrics.json`` is damaged: its checkpoint rebuilds it). A failing
run leaves its traceback in ``error.txt`` and the study goes on; the summary's ``exit_code`` is 1
if any run failed.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import __version__, learners  # noqa: F401  (learners: registers the built-in ones, which _validate resolves)
from .errors import AlselError, ConfigError, RunFileError, RunInUseError
from .io import read_json, read_yaml_mapping, write_json, write_text
from .loops.config import budget_label, parse_budget
from .loops.rundir import RunDir
from .progress import SILENT, Progress

__all__ = [
    "StrategySpec",
    "RunSpec",
    "Study",
    "RunOutcome",
    "StudySummary",
    "load_study",
    "run_study",
    "EXECUTORS",
]

EXECUTORS = ("local", "ray")
#: Keys of a study config that are not loop options.
STUDY_KEYS = frozenset({"name", "description", "strategies", "budgets", "seeds", "out", "executor", "address", "cpus_per_run"})
#: Loop options a strategy may set for itself: how it selects, never how the model trains.
SELECTION_KEYS = frozenset({"preset", "init", "init_size", "keep_init", "acq", "rounds", "scorer", "balance", "dedup", "strategy_options", "embedder"})
#: Options that are grid axes and so not set by hand.
AXIS_KEYS = frozenset({"budget", "seed"})
#: Options naming files or folders: made absolute so every worker finds them.
PATH_KEYS = ("dataset", "eval", "model", "cache_dir")
DEFAULT_BUDGETS = (0.1,)
DEFAULT_SEEDS = (0, 1, 2)
FULL_PRESET = "full"
RAY_EXTRA = "the ray executor needs `pip install 'alsel[ray]'`"

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


# --------------------------------------------------------------------------- values


def _parse_seed(value) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"seed {value!r} is not an integer")
    try:
        seed = int(str(value).strip()) if isinstance(value, str) else value
    except ValueError:
        raise ConfigError(f"seed {value!r} is not an integer") from None
    if not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed {value!r} must be a non-negative integer")
    return seed


def _as_list(value, what: str) -> list:
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


def _unique(values: Iterable) -> list:
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class StrategySpec:
    """One compared strategy: a preset and/or selection options.

    Attributes
    ----------
    name : str
        The name in the study (a directory name under ``runs/``).
    preset : str or None
    options : dict
        Selection options on top of the preset (see ``SELECTION_KEYS``).
    """

    name: str
    preset: str | None = None
    options: dict = field(default_factory=dict)

    @property
    def is_full(self) -> bool:
        """Trains on the whole pool: one run per seed, whatever the budgets."""
        return self.preset == FULL_PRESET

    def to_dict(self) -> dict:
        return {"preset": self.preset, "options": dict(self.options)}


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

    def loop_config(self):
        """The run's :class:`~alsel.loops.config.LoopConfig` (defaults < preset < options)."""
        from .loops.config import LoopConfig

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


@dataclass
class Study:
    """A loaded and validated study config with its overrides applied.

    Attributes
    ----------
    name : str
    study_dir : Path
        Absolute.
    strategies : dict of str to StrategySpec
        In config order.
    budgets : list of float or int
    seeds : list of int
    options : dict
        Loop options every run shares.
    executor : {"local", "ray"}
    address : str or None
        A Ray cluster address; ``None`` starts a local Ray.
    cpus_per_run : int or None
        CPUs a Ray task asks for on a cluster without GPUs; ``None``: all of one node's.
    config_path : Path or None
    description : str or None
    """

    name: str
    study_dir: Path
    strategies: dict[str, StrategySpec]
    budgets: list
    seeds: list[int]
    options: dict
    executor: str = "local"
    address: str | None = None
    cpus_per_run: int | None = None
    config_path: Path | None = None
    description: str | None = None

    def runs(self) -> list[RunSpec]:
        """The grid, seed by seed (so an early stop still leaves complete pairs), then budget,
        then strategy in config order; a ``full`` strategy once per seed."""
        specs = []
        for seed in self.seeds:
            for i, budget in enumerate(self.budgets):
                for strategy in self.strategies.values():
                    if strategy.is_full and i > 0:
                        continue
                    specs.append(self._run(strategy, 1.0 if strategy.is_full else budget, seed))
        return specs

    def _run(self, strategy: StrategySpec, budget, seed: int) -> RunSpec:
        options = {**self.options, **strategy.options, "seed": seed}
        if not strategy.is_full:  # the preset sets the whole pool
            options["budget"] = budget
        rel = f"runs/{strategy.name}/budget-{budget_label(budget)}/seed-{seed}"
        return RunSpec(strategy=strategy.name, budget=budget, seed=seed, preset=strategy.preset, options=options, rel_dir=rel)

    def to_record(self, runs: list[RunSpec] | None = None) -> dict:
        """What ``study.json`` holds."""
        return {
            "name": self.name,
            "description": self.description,
            "config_path": str(self.config_path) if self.config_path else None,
            "alsel": __version__,
            "options": dict(self.options),
            "strategies": {name: spec.to_dict() for name, spec in self.strategies.items()},
            "budgets": list(self.budgets),
            "seeds": list(self.seeds),
            "executor": self.executor,
            "runs": [r.to_dict() for r in (self.runs() if runs is None else runs)],
        }


def _loop_option_names() -> set[str]:
    from dataclasses import fields

    from .loops.config import LoopConfig

    return {f.name for f in fields(LoopConfig)}


def _preset_names() -> list[str]:
    from .loops.presets import PRESETS

    return list(PRESETS)


def _parse_strategies(raw, where: str) -> dict[str, StrategySpec]:
    presets = _preset_names()
    option_names = _loop_option_names()
    if isinstance(raw, (list, tuple)):
        raw = {name: None for name in raw}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(f"{where}: `strategies` must map names to presets or loop specs, e.g. {{random: {{preset: random}}}}")
    out = {}
    for name, spec in raw.items():
        name = str(name)
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
        if preset is not None and preset not in presets:
            raise ConfigError(f"{where}: strategy {name!r}: unknown preset {preset!r}; choose one of: {', '.join(presets)}")
        unknown = sorted(set(spec) - option_names)
        if unknown:
            raise ConfigError(f"{where}: strategy {name!r}: unknown option {', '.join(unknown)}")
        axis = sorted(set(spec) & AXIS_KEYS)
        if axis:
            raise ConfigError(f"{where}: strategy {name!r} sets {', '.join(axis)}; set budgets and seeds for the whole study")
        training = sorted(set(spec) - SELECTION_KEYS)
        if training:
            raise ConfigError(
                f"{where}: strategy {name!r} sets {', '.join(training)}; set data and training options at the study level "
                "so every strategy trains the same way (runs with the same seed are compared in pairs)"
            )
        if preset is None and not spec:
            raise ConfigError(f"{where}: strategy {name!r} is empty; give a preset or loop options")
        out[name] = StrategySpec(name=name, preset=preset, options=spec)
    return out


def _absolute_paths(options: dict) -> dict:
    options = dict(options)
    for key in PATH_KEYS:
        value = options.get(key)
        if not isinstance(value, str) or not value:
            continue
        if key == "dataset" and (value == "sst2" or value.startswith("hf:")):
            continue
        path = Path(value).expanduser()
        if key == "cache_dir" or path.exists():
            options[key] = str(path.resolve())
    return options


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
        Replace the config's seeds / budgets.
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
    if "strategies" not in raw:
        raise ConfigError(f"{path}: no `strategies`; name the strategies to compare, e.g. {{random: {{preset: random}}}}")
    where = str(path)
    all_strategies = _parse_strategies(raw["strategies"], where)

    if strategies is not None:
        wanted = _unique(str(s) for s in _as_list(strategies, "--strategies"))
        unknown = [s for s in wanted if s not in all_strategies]
        if unknown:
            raise ConfigError(f"unknown strategy {', '.join(map(repr, unknown))} for {path.name}; valid: {', '.join(all_strategies)}")
        if not wanted:
            raise ConfigError(f"no strategies selected; valid: {', '.join(all_strategies)}")
        chosen = {name: spec for name, spec in all_strategies.items() if name in wanted}
    else:
        chosen = all_strategies

    budget_values = _as_list(budgets if budgets is not None else raw.get("budgets", list(DEFAULT_BUDGETS)), "budgets")
    budget_list = _unique(parse_budget(b) for b in budget_values)
    seed_list = _unique(_parse_seed(s) for s in _as_list(seeds if seeds is not None else raw.get("seeds", list(DEFAULT_SEEDS)), "seeds"))
    if not budget_list:
        raise ConfigError(f"{where}: no budgets")
    if not seed_list:
        raise ConfigError(f"{where}: no seeds")

    option_names = _loop_option_names()
    shared = {k: v for k, v in raw.items() if k not in STUDY_KEYS}
    overrides = {k: v for k, v in (options or {}).items() if v is not None}
    if limit is not None:
        overrides["limit"] = limit
    for source, values in ((where, shared), ("overrides", overrides)):
        unknown = sorted(set(values) - option_names)
        if unknown:
            raise ConfigError(f"{source}: unknown option {', '.join(unknown)}")
        fixed = sorted(set(values) & (AXIS_KEYS | {"preset"}))
        if fixed:
            raise ConfigError(f"{source}: {', '.join(fixed)} cannot be a shared option; use budgets, seeds and strategies")
        if values.get("save_model") is not None:
            raise ConfigError(f"{source}: save_model would have every run write one folder; save a run's model with alsel loop --save-model")
    shared = _absolute_paths({**shared, **overrides})
    if shared.get("limit") is not None and (isinstance(shared["limit"], bool) or not isinstance(shared["limit"], int) or shared["limit"] <= 0):
        raise ConfigError(f"limit must be a positive integer, got {shared['limit']!r}")

    executor = executor or raw.get("executor") or "local"
    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; choose one of: {', '.join(EXECUTORS)}")
    cpus = raw.get("cpus_per_run")
    if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, int) or cpus < 1):
        raise ConfigError(f"{where}: cpus_per_run must be a positive integer, got {cpus!r}")
    name = str(raw.get("name") or path.stem)
    study_dir = Path(out or raw.get("out") or Path("studies") / name).expanduser().resolve()
    return Study(
        name=name,
        study_dir=study_dir,
        strategies=chosen,
        budgets=budget_list,
        seeds=seed_list,
        options=shared,
        executor=executor,
        address=address or raw.get("address"),
        cpus_per_run=cpus,
        config_path=path.resolve(),
        description=raw.get("description"),
    )


# --------------------------------------------------------------------------- outcomes


@dataclass
class RunOutcome:
    """What happened to one run.

    Attributes
    ----------
    spec : RunSpec
    run_dir : Path
    status : {"finished", "skipped", "failed", "planned"}
        ``finished``: ran (or resumed) to the end now; ``skipped``: had finished before;
        ``failed``: see ``error`` and ``run_dir/error.txt``; ``planned``: a dry run's pending run.
    metrics : dict or None
    error : str or None
        The exception's first line.
    seconds : float
    note : str or None
        E.g. "resumes an interrupted run".
    """

    spec: RunSpec
    run_dir: Path
    status: str
    metrics: dict | None = None
    error: str | None = None
    seconds: float = 0.0
    note: str | None = None

    def to_dict(self) -> dict:
        return {
            **self.spec.to_dict(),
            "status": self.status,
            "metrics": self.metrics,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "note": self.note,
        }


@dataclass
class StudySummary:
    """The result of :func:`run_study`.

    Attributes
    ----------
    study : Study
    outcomes : list of RunOutcome
        In grid order.
    dry_run : bool
    """

    study: Study
    outcomes: list[RunOutcome]
    dry_run: bool = False

    @property
    def study_dir(self) -> Path:
        return self.study.study_dir

    def _with(self, status: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def finished(self) -> list[RunOutcome]:
        return self._with("finished")

    @property
    def skipped(self) -> list[RunOutcome]:
        return self._with("skipped")

    @property
    def failed(self) -> list[RunOutcome]:
        return self._with("failed")

    @property
    def planned(self) -> list[RunOutcome]:
        return self._with("planned")

    @property
    def exit_code(self) -> int:
        """1 if any run failed, else 0."""
        return 1 if self.failed else 0

    def counts(self) -> dict[str, int]:
        return {s: len(self._with(s)) for s in ("finished", "skipped", "failed", "planned")}

    def describe(self) -> str:
        """One line for the person who ran it."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items() if n)
        verb = "would run" if self.dry_run else "ran"
        return f"study {self.study.name}: {len(self.outcomes)} runs ({counts}); {verb} in {self.study_dir}"

    def table(self):
        """A DataFrame with one row per run: strategy, budget, seed, status, accuracy, f1,
        seconds, error, run_dir."""
        import pandas as pd

        rows = [
            {
                "strategy": o.spec.strategy,
                "budget": o.spec.budget,
                "seed": o.spec.seed,
                "status": o.status,
                "accuracy": (o.metrics or {}).get("accuracy"),
                "f1": (o.metrics or {}).get("f1"),
                "seconds": round(o.seconds, 1),
                "error": o.error or o.note,
                "run_dir": str(o.run_dir),
            }
            for o in self.outcomes
        ]
        return pd.DataFrame(rows, columns=["strategy", "budget", "seed", "status", "accuracy", "f1", "seconds", "error", "run_dir"])

    def to_dict(self) -> dict:
        return {
            "study_dir": str(self.study_dir),
            "dry_run": self.dry_run,
            "counts": self.counts(),
            "exit_code": self.exit_code,
            "runs": [o.to_dict() for o in self.outcomes],
        }


# --------------------------------------------------------------------------- running

#: ``run_fn(config, out_dir, progress) -> metrics``: :func:`alsel.loops.controller.run_loop`
#: or a stand-in with its signature.
RunFn = Callable[..., dict]


def _default_run_fn() -> RunFn:
    from .run import run_loop

    return run_loop


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _write_error(run_dir: Path, spec: RunSpec, text: str) -> None:
    write_text(run_dir / "error.txt", f"{spec.label} failed at {_now()}\n\n{text}")


def _finished_metrics(run_dir: Path) -> dict | None:
    """A run's final metrics; None if it has not finished, or if its metrics.json is damaged
    (running it again rebuilds the file from the run's checkpoint)."""
    try:
        return RunDir(run_dir).read_metrics()
    except RunFileError:
        return None


def execute_run(spec: RunSpec, study_dir, run_fn: RunFn, progress: Progress = SILENT) -> RunOutcome:
    """Run one cell (or skip it if it finished); an exception is caught, written to
    ``error.txt`` and returned as a ``failed`` outcome."""
    run_dir = Path(study_dir) / spec.rel_dir
    finished = _finished_metrics(run_dir)
    if finished is not None:
        return RunOutcome(spec, run_dir, "skipped", metrics=finished)
    # A previous failure's note goes: the run directory must hold only run files to resume.
    (run_dir / "error.txt").unlink(missing_ok=True)
    started = time.perf_counter()
    try:
        metrics = run_fn(spec.loop_config(), run_dir, progress=progress)
    except RunInUseError as exc:  # another process runs it: its directory is not ours to write
        return RunOutcome(spec, run_dir, "failed", error=str(exc), seconds=time.perf_counter() - started)
    except Exception as exc:  # a failed cell must not stop the study
        _write_error(run_dir, spec, traceback.format_exc())
        return RunOutcome(spec, run_dir, "failed", error=_first_line(exc), seconds=time.perf_counter() - started)
    return RunOutcome(spec, run_dir, "finished", metrics=metrics, seconds=time.perf_counter() - started)


def _validate(specs: list[RunSpec]) -> None:
    """Build (and resolve) every run's config before anything runs, so a typo fails at once."""
    seen = set()
    for spec in specs:
        key = (spec.strategy, spec.preset, repr(sorted((k, repr(v)) for k, v in spec.options.items() if k != "seed")))
        if key in seen:
            continue
        seen.add(key)
        try:
            spec.loop_config().resolved()
        except AlselError as exc:
            raise ConfigError(f"strategy {spec.strategy!r}: {exc}") from None


def _merge_record(path: Path, study: Study, runs: list[RunSpec]) -> dict:
    """study.json for this invocation, merged with an existing one of the same study; options
    that differ from the existing study raise (they would break the pairing)."""
    record = study.to_record(runs)
    record["created"] = record["updated"] = _now()
    if not path.exists():
        return record
    try:
        old = read_json(path)
    except (OSError, ValueError):
        raise ConfigError(f"{path}: unreadable; pass another --out") from None
    old_options = old.get("options", {})
    changed = sorted(k for k in set(old_options) | set(study.options) if old_options.get(k) != study.options.get(k))
    if changed:
        diff = "; ".join(f"{k}: {old_options.get(k)!r} -> {study.options.get(k)!r}" for k in changed)
        raise ConfigError(f"{path.parent} holds a study with other options ({diff}); pass another --out")
    for name, spec in study.strategies.items():
        before = old.get("strategies", {}).get(name)
        if before is not None and before != spec.to_dict():
            raise ConfigError(f"{path.parent}: strategy {name!r} was {before} there, now {spec.to_dict()}; rename it or pass another --out")
    record["created"] = old.get("created", record["created"])
    record["strategies"] = {**old.get("strategies", {}), **record["strategies"]}
    record["budgets"] = _unique([*old.get("budgets", []), *record["budgets"]])
    record["seeds"] = _unique([*old.get("seeds", []), *record["seeds"]])
    new_dirs = {r["run_dir"] for r in record["runs"]}
    record["runs"] = [r for r in old.get("runs", []) if r["run_dir"] not in new_dirs] + record["runs"]
    return record


def run_study(
    config_path,
    *,
    dry_run: bool = False,
    progress: Progress = SILENT,
    run_fn: RunFn | None = None,
    **overrides,
) -> StudySummary:
    """Run a study: every (strategy, budget, seed) run not finished yet.

    Parameters
    ----------
    config_path : path
        The study YAML.
    **overrides
        ``limit``, ``seeds``, ``strategies``, ``budgets``, ``out``, ``executor``, ``address``,
        ``options``: see :func:`load_study`.
    dry_run : bool
        Only resolve and validate the grid: nothing is run or written; outcomes are ``planned``
        (or ``skipped`` for finished runs).
    progress : Progress
        Study-level progress and log lines; the local executor also hands it to each run.
    run_fn : callable, optional
        ``run_fn(config, out_dir, progress=...) -> metrics``; default
        :func:`alsel.loops.controller.run_loop`. Tests pass a stand-in.

    Returns
    -------
    StudySummary
        ``exit_code`` is 1 if any run failed (the others still ran).

    Raises
    ------
    ConfigError
        A bad config or override, or a study directory holding a study with other options.

    Notes
    -----
    The ``ray`` executor submits one task per run, asking for one GPU where the cluster has GPUs,
    else ``cpus_per_run`` CPUs (default: all of one node's, since torch uses every core it is
    given). Without ``address`` it starts a local Ray (no dashboard, temporary files under the
    system temp dir, no usage reports, no auth token in the home directory) and stops it after.
    On a cluster, every node needs alsel installed and should see the study directory (a shared
    file system); a worker on another node otherwise sends a finished run's files back to the
    driver, but an interrupted run there cannot be resumed.
    """
    study = load_study(config_path, **overrides)
    runs = study.runs()
    _validate(runs)
    record_path = study.study_dir / "study.json"
    record = _merge_record(record_path, study, runs)

    if dry_run:
        outcomes = []
        for spec in runs:
            run_dir = study.study_dir / spec.rel_dir
            finished = _finished_metrics(run_dir)
            if finished is not None:
                outcomes.append(RunOutcome(spec, run_dir, "skipped", metrics=finished))
            else:
                note = "resumes an interrupted run" if RunDir(run_dir).file(RunDir.CONFIG).exists() else None
                outcomes.append(RunOutcome(spec, run_dir, "planned", note=note))
        return StudySummary(study, outcomes, dry_run=True)

    write_json(record_path, record)
    run_fn = run_fn or _default_run_fn()
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for spec in runs:
        run_dir = study.study_dir / spec.rel_dir
        finished = _finished_metrics(run_dir)
        if finished is not None:
            outcomes[spec.rel_dir] = RunOutcome(spec, run_dir, "skipped", metrics=finished)
        else:
            todo.append(spec)
    progress.log(f"study {study.name}: {len(runs)} runs, {len(runs) - len(todo)} finished before, {len(todo)} to run -> {study.study_dir}")
    if todo:
        execute = _run_local if study.executor == "local" else _run_ray
        for outcome in execute(study, todo, run_fn, progress):
            outcomes[outcome.spec.rel_dir] = outcome
    summary = StudySummary(study, [outcomes[spec.rel_dir] for spec in runs])

    status = {o.spec.rel_dir: o.status for o in summary.outcomes}
    for row in record["runs"]:
        row["status"] = status.get(row["run_dir"], row.get("status"))
    record["updated"] = _now()
    write_json(record_path, record)
    progress.log(summary.describe())
    return summary


def _log_outcome(progress: Progress, outcome: RunOutcome, i: int, n: int) -> None:
    if outcome.status == "failed":
        progress.log(f"[{i}/{n}] {outcome.spec.label}: FAILED ({outcome.error}); see {outcome.run_dir / 'error.txt'}")
    else:
        m = outcome.metrics or {}
        acc = m.get("accuracy")
        progress.log(f"[{i}/{n}] {outcome.spec.label}: accuracy {acc:.4f} ({outcome.seconds:.0f} s)" if acc is not None else f"[{i}/{n}] {outcome.spec.label}: done")


def _run_local(study: Study, todo: list[RunSpec], run_fn: RunFn, progress: Progress) -> list[RunOutcome]:
    outcomes = []
    with progress.task(f"study {study.name}", total=len(todo)) as advance:
        for i, spec in enumerate(todo, 1):
            progress.log(f"[{i}/{len(todo)}] {spec.label} -> {study.study_dir / spec.rel_dir}")
            outcome = execute_run(spec, study.study_dir, run_fn, progress)
            outcomes.append(outcome)
            _log_outcome(progress, outcome, i, len(todo))
            advance(1)
    return outcomes


# --------------------------------------------------------------------------- ray


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_EXTRA) from None
    return ray


#: Files a worker on another node sends back (when the study directory is not shared).
_SENT_BACK = (".json", ".jsonl", ".txt", ".csv")


def _ray_execute(spec: RunSpec, study_dir: str, run_fn: RunFn, driver_node: str | None) -> dict:
    """The body of one Ray task: run the cell, and if this worker is on another node than the
    driver, return the run's text files so the driver can write them into its study directory."""
    import ray

    outcome = execute_run(spec, study_dir, run_fn, SILENT)
    files = {}
    if driver_node is not None and ray.get_runtime_context().get_node_id() != driver_node:
        for path in sorted(outcome.run_dir.glob("*")):
            if path.is_file() and path.suffix in _SENT_BACK:
                files[path.name] = path.read_text(encoding="utf-8")
    return {"status": outcome.status, "metrics": outcome.metrics, "error": outcome.error, "seconds": outcome.seconds, "files": files}


def _ray_task_options(ray, cpus_per_run: int | None) -> dict:
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) >= 1:
        return {"num_gpus": 1}
    if cpus_per_run is not None:
        return {"num_cpus": cpus_per_run}
    per_node = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    per_node = [c for c in per_node if c >= 1]
    # One run per node: torch already uses every core it is given.
    return {"num_cpus": int(min(per_node)) if per_node else 1}


def _ray_env(local: bool) -> dict:
    """Environment for Ray: no usage reports, and for a Ray started here no token file in the
    home directory (Ray >= 2.59 writes ``~/.ray/auth_token`` unless auth is disabled)."""
    wanted = {"RAY_USAGE_STATS_ENABLED": "0"}
    if local:
        wanted["RAY_AUTH_MODE"] = "disabled"
    return {k: v for k, v in wanted.items() if k not in os.environ}


def _run_ray(study: Study, todo: list[RunSpec], run_fn: RunFn, progress: Progress) -> list[RunOutcome]:
    ray = _import_ray()
    import logging

    env = _ray_env(local=study.address is None)
    os.environ.update(env)
    started_here = False
    try:
        if not ray.is_initialized():
            common = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": False}
            if study.address:
                progress.log(f"connecting to the Ray cluster at {study.address}")
                ray.init(address=study.address, **common)
            else:
                temp_dir = Path(tempfile.gettempdir()) / "alsel-ray"
                progress.log(f"starting a local Ray (temporary files in {temp_dir})")
                ray.init(include_dashboard=False, _temp_dir=str(temp_dir), **common)
            started_here = True
        task_options = _ray_task_options(ray, study.cpus_per_run)
        progress.log(f"Ray: {ray.cluster_resources()}; each run asks for {task_options}")
        task = ray.remote(max_retries=1, **task_options)(_ray_execute)
        driver_node = ray.get_runtime_context().get_node_id()
        refs = {task.remote(spec, str(study.study_dir), run_fn, driver_node): spec for spec in todo}
        outcomes = []
        pending = list(refs)
        with progress.task(f"study {study.name} on Ray", total=len(todo)) as advance:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    spec = refs[ref]
                    outcome = _collect_ray(ray, ref, spec, study.study_dir)
                    outcomes.append(outcome)
                    _log_outcome(progress, outcome, len(outcomes), len(todo))
                    advance(1)
        return outcomes
    finally:
        if started_here:
            ray.shutdown()
        for key in env:
            os.environ.pop(key, None)


def _collect_ray(ray, ref, spec: RunSpec, study_dir: Path) -> RunOutcome:
    run_dir = study_dir / spec.rel_dir
    try:
        result = ray.get(ref)
    except Exception as exc:  # the worker died (OOM, node lost): the run failed, the study goes on
        _write_error(run_dir, spec, f"the Ray task failed: {exc}")
        return RunOutcome(spec, run_dir, "failed", error=_first_line(exc))
    # Files from a worker on another node; metrics.json last, as a run writes it.
    files = result.get("files", {})
    for name in sorted(files, key=lambda n: n == RunDir.METRICS):
        write_text(run_dir / name, files[name])
    return RunOutcome(spec, run_dir, result["status"], metrics=result["metrics"], error=result["error"], seconds=result["seconds"])
