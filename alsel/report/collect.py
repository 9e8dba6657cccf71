"""Reading a study directory into one :class:`StudyResults`: every run's files, through
:class:`~alsel.loops.rundir.RunDir`, read once.

Everything the report says comes from this object, so the analysis and the rendering never
touch the disk. Damage is not fatal here: a run whose files cannot be read is a failure with the
reason, missing per-sentence predictions cost only the sentence-level test, and missing
embeddings only the subsets figure (each with a note saying why).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import TextDataset
from ..errors import ConfigError, DataError, RunFileError, first_line
from ..io import read_json
from ..loops.config import budget_order, per_class
from ..loops.presets import BASELINE
from ..loops.rundir import RunDir
from ..study.layout import STUDY_RECORD, find_runs
from .formatting import budget_text

__all__ = [
    "RESULT_COLUMNS",
    "FAILURE_COLUMNS",
    "StudyResults",
    "Subsets",
    "collect_study",
    "read_study",
    "collect_results",
    "collect_failures",
    "collect_eval_correct",
    "collect_subsets",
    "run_costs",
    "full_strategies",
    "at_budget",
    "numeric_budgets",
]

RESULT_COLUMNS = [
    "strategy",
    "budget",
    "seed",
    "preset",
    "n_train",
    "per_class",
    "accuracy",
    "f1",
    "seconds",
    "train_seconds",
    "score_seconds",
    "embed_seconds",
    "other_seconds",
    "cost_seconds",
    "rounds",
    "run_dir",
    "failed",
]
FAILURE_COLUMNS = ["strategy", "budget", "seed", "error", "run_dir"]
COST_COLUMNS = ("train_seconds", "score_seconds", "embed_seconds", "other_seconds", "cost_seconds")


@dataclass(frozen=True)
class Subsets:
    """What the subsets figure shows: one seed's selections at the smallest budget over the
    pool's cached embeddings.

    Attributes
    ----------
    seed, budget
    embeddings : ndarray of shape (n_pool, d)
    pool : TextDataset
        Ids, labels and label names, in the embeddings' order.
    positions : dict of str to ndarray
        Each strategy's selected pool positions, in the study's order of strategies.
    """

    seed: int
    budget: float
    embeddings: np.ndarray
    pool: TextDataset
    positions: dict


@dataclass(frozen=True)
class StudyResults:
    """A study directory, read.

    Attributes
    ----------
    study_dir : Path
    record : dict
        study.json (the grid, name, description); empty without one.
    runs : DataFrame
        One row per finished run, columns :data:`RESULT_COLUMNS`, in the study's order.
    failures : DataFrame
        Runs that failed or whose files are damaged, columns :data:`FAILURE_COLUMNS`.
    configs : dict of str to dict or None
        Each finished run's config.json by ``run_dir`` (None: it has none).
    rounds : dict of str to list of dict
        Each finished run's rounds.jsonl rows by ``run_dir``.
    missing : list of dict
        The study.json runs that neither finished nor failed.
    correct : dict of str to ndarray of bool
        Which evaluation sentences each run's final model got right (:func:`collect_eval_correct`).
    correct_note : str or None
        Why some runs have no per-sentence correctness.
    subsets : Subsets or None
    subsets_note : str or None
        Why there is no subsets figure, or None.
    """

    study_dir: Path
    record: dict
    runs: pd.DataFrame
    failures: pd.DataFrame
    configs: dict
    rounds: dict
    missing: list = field(default_factory=list)
    correct: dict = field(default_factory=dict)
    correct_note: str | None = None
    subsets: Subsets | None = None
    subsets_note: str | None = None

    def first_config(self, strategy: str | None = None) -> dict:
        """The config of the first finished run (of ``strategy``) that has one; {} if none does."""
        runs = self.runs if strategy is None else self.runs[self.runs["strategy"] == strategy]
        return _first_config(self.configs, runs["run_dir"])


def collect_study(study_dir, *, seed: int | None = None, subsets: bool = True, strategies=None, budgets=None) -> StudyResults:
    """Everything the report needs from ``study_dir``; ``seed`` picks the selections the
    subsets figure shows (default: the seed with most strategies); without ``subsets`` the
    selections and embeddings are not read (a comparison of studies draws no subsets).
    ``strategies`` and ``budgets``, if given, keep only the finished runs of those strategies
    and at those budgets, as if the study held no others (their predictions are not read).

    Raises
    ------
    ConfigError
        The directory holds no finished run.
    """
    study = read_study(study_dir)
    if strategies is not None:
        study = replace(study, runs=study.runs[study.runs["strategy"].isin(set(strategies))].reset_index(drop=True))
    if budgets is not None:
        kept = np.logical_or.reduce([at_budget(study.runs, b) for b in budgets])
        if len(study.runs) and not kept.any():
            raise ConfigError(f"{study.study_dir}: no finished runs at budget {', '.join(map(budget_text, budgets))}")
        study = replace(study, runs=study.runs[kept].reset_index(drop=True))
    if study.runs.empty:
        raise ConfigError(
            f"{study.study_dir}: no finished runs (runs/<strategy>/budget-<b>/seed-<s>/{RunDir.METRICS}); run `alsel study` first"
        )
    correct, correct_note = collect_eval_correct(study.runs, study.configs)
    study = replace(study, correct=correct, correct_note=correct_note)
    if not subsets:
        return study
    chosen, subsets_note = collect_subsets(study, seed=seed)
    return replace(study, subsets=chosen, subsets_note=subsets_note)


def at_budget(frame: pd.DataFrame, budget) -> pd.Series:
    """Rows at ``budget`` (fractions and counts are read back from folder names, so compared with
    a tolerance; a budget per class by its count per class)."""
    if per_class(budget) is not None:
        return frame["budget"].map(lambda b: b == budget).astype(bool)
    return pd.Series(np.isclose(numeric_budgets(frame["budget"]), float(budget)), index=frame.index)


def numeric_budgets(budgets: pd.Series) -> np.ndarray:
    """Fractions and counts as floats; budgets per class as NaN (they are on another scale)."""
    return np.array([math.nan if per_class(b) is not None else float(b) for b in budgets], dtype=float)


def read_study(study_dir) -> StudyResults:
    """The study's record and every run's config, rounds and metrics (no predictions, no
    embeddings: :func:`collect_study` adds those)."""
    study_dir = Path(study_dir)
    record = _study_record(study_dir)
    rows, failures, configs, rounds = [], [], {}, {}
    for strategy, budget, seed, path in find_runs(study_dir):
        where = {"strategy": strategy, "budget": budget if per_class(budget) is not None else float(budget), "seed": seed}
        try:
            finished = _read_finished_run(path)
        except RunFileError as exc:
            failures.append({**where, "error": str(exc), "run_dir": str(path)})
            continue
        if finished is None:
            error = _error_line(path)
            if error is not None:
                failures.append({**where, "error": error, "run_dir": str(path)})
            continue
        metrics, config, round_rows = finished
        rows.append(_result_row(where, metrics, config or {}, round_rows, path))
        configs[str(path)], rounds[str(path)] = config, round_rows
    runs = _in_study_order(pd.DataFrame(rows, columns=RESULT_COLUMNS), record)
    failures = pd.DataFrame(failures, columns=FAILURE_COLUMNS)
    return StudyResults(study_dir, record, runs, failures, configs, rounds, _missing_runs(study_dir, record, runs, failures))


def collect_results(study_dir) -> pd.DataFrame:
    """One row per finished run (a run directory holding metrics.json); a run with a damaged
    file is left out (:func:`collect_failures` names the file).

    Returns
    -------
    DataFrame
        Columns ``strategy``, ``budget``, ``seed``, ``preset``, ``n_train``, ``accuracy``,
        ``f1``, ``seconds`` (this run's wall time), the cost split by :func:`run_costs`
        (``train_seconds``, ``score_seconds``, ``embed_seconds``, ``other_seconds``,
        ``cost_seconds``), ``rounds``
        (acquisition rounds of the loop), ``run_dir``; sorted by strategy (in the study's
        order), budget and seed.
    """
    return read_study(study_dir).runs


def collect_failures(study_dir) -> pd.DataFrame:
    """Runs that failed (an error.txt and no metrics.json) or whose files are damaged:
    strategy, budget, seed, error (the exception line, or which file is damaged), run_dir."""
    return read_study(study_dir).failures


def full_strategies(runs: pd.DataFrame) -> set:
    """The strategies that trained on the whole pool (preset ``full``): the upper bound, never
    compared with the baseline."""
    return set(runs.loc[runs["preset"] == "full", "strategy"]) if "preset" in runs else set()


def run_costs(rounds: list[dict]) -> dict[str, float]:
    """What a run's rows in ``rounds.jsonl`` say it cost, in seconds: what it would take alone,
    from nothing.

    A round whose model came from the round cache (``cached``) was paid for by an earlier run
    (the study's high_conf and low_conf share their seed model); it is counted at its recorded
    training and scoring time. Embeddings read from the cache are counted at the time their
    computation took (``embed_cached_seconds``), so every run that uses embeddings pays for
    them once, whichever run of a study computed them.

    Returns
    -------
    dict
        ``train_seconds`` (fine-tuning and evaluating every round's model), ``score_seconds``
        (scoring candidates), ``embed_seconds`` (embedding the pool and any other texts),
        ``other_seconds`` (choosing examples, loading) and their sum ``cost_seconds``; NaN
        without rows.
    """
    if not rounds:
        return dict.fromkeys(COST_COLUMNS, math.nan)
    seconds = lambda r, key: float(r.get(key) or 0.0)  # noqa: E731
    train = sum(seconds(r, "train_seconds") for r in rounds)
    score = sum(seconds(r, "score_seconds") for r in rounds)
    embed = sum(seconds(r, "embed_seconds") for r in rounds)
    spent_embedding = lambda r: seconds(r, "embed_seconds") - seconds(r, "embed_cached_seconds")  # noqa: E731
    fresh = [r for r in rounds if not r.get("cached")]
    other = sum(seconds(r, "seconds") - seconds(r, "train_seconds") - seconds(r, "score_seconds") - spent_embedding(r) for r in fresh)
    other += sum(seconds(r, "seconds") - spent_embedding(r) for r in rounds if r.get("cached"))
    other = max(other, 0.0)
    return {
        "train_seconds": train,
        "score_seconds": score,
        "embed_seconds": embed,
        "other_seconds": other,
        "cost_seconds": train + score + embed + other,
    }


def collect_eval_correct(results: pd.DataFrame, configs: dict | None = None) -> tuple[dict[str, np.ndarray], str | None]:
    """Which evaluation examples each run's final model got right, from its predictions
    (:meth:`~alsel.loops.rundir.RunDir.read_eval_predictions`).

    Parameters
    ----------
    results : DataFrame
        The finished runs (:func:`collect_results`).
    configs : dict, optional
        Their configs by ``run_dir`` (:attr:`StudyResults.configs`); read if not given.

    Returns
    -------
    (correct, note)
        ``correct`` maps ``run_dir`` to a boolean array in the evaluation set's order, for the
        runs that saved their predictions; ``note`` says why runs are missing, or None.
    """
    correct: dict[str, np.ndarray] = {}
    labels_by_data: dict[str, np.ndarray] = {}
    missing, unreadable = 0, []
    for run_dir in results["run_dir"]:
        run = RunDir(run_dir)
        try:
            predictions = run.read_eval_predictions()
            if predictions is None:
                missing += 1
                continue
            config = (configs[run_dir] if configs is not None else run.read_config()) or {}
            key = config.get("data", {}).get("pool_fingerprint", "")
            if key not in labels_by_data:
                labels_by_data[key] = _reload_splits(config).eval.labels
        except Exception as exc:  # unavailable data or a damaged file only costs the sentence-level test
            unreadable.append(f"{run_dir}: {first_line(exc)}")
            continue
        labels = labels_by_data[key]
        if predictions.shape[0] != len(labels):
            unreadable.append(f"{run_dir}: {predictions.shape[0]} predictions, the evaluation set has {len(labels)} examples")
            continue
        correct[str(run_dir)] = predictions == labels
    return correct, _left_out_note(missing, unreadable)


def collect_subsets(study: StudyResults, *, seed: int | None = None) -> tuple[Subsets | None, str | None]:
    """The selections and embeddings of the subsets figure (one seed, the smallest budget), or
    why it cannot be drawn."""
    from ..embed import Embedder

    part = study.runs[~study.runs["strategy"].isin(full_strategies(study.runs))]
    if part.empty:
        return None, "subsets.png skipped: no subset strategies finished."
    if seed is None:
        counts = part.groupby("seed")["strategy"].nunique()
        seed = int(counts.idxmax()) if len(counts) else sorted(part["seed"].unique())[0]
    budget = sorted(part["budget"].unique(), key=budget_order)[0]
    chosen = part[(part["seed"] == seed) & (part["budget"] == budget)]
    if chosen.empty:
        return None, f"subsets.png skipped: no run with seed {seed} at budget {budget_text(budget)}."
    config = _first_config(study.configs, chosen["run_dir"])
    fingerprint = config.get("data", {}).get("pool_fingerprint")
    if not fingerprint:
        return None, f"subsets.png skipped: the runs' {RunDir.CONFIG} records no pool fingerprint."
    embedder = Embedder(
        model=config.get("embedder", "minilm"), cache_dir=config.get("cache_dir"), precision=config.get("embed_precision", "fp32")
    )
    cache = embedder.cache_path(fingerprint)
    if not cache.exists():
        return (
            None,
            f"subsets.png skipped: no cached pool embeddings at {cache} (strategies that use embeddings, such as kmeans, cache them).",
        )
    try:
        embeddings = np.load(cache, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # a cut file: the next run that needs it recomputes it
        return None, f"subsets.png skipped: the cached pool embeddings at {cache} are damaged."
    try:
        pool = _reload_splits(config).pool
    except Exception as exc:  # an unavailable or changed data set only costs this plot
        return None, f"subsets.png skipped: cannot reload the pool ({first_line(exc)})."
    if embeddings.shape[0] != len(pool):
        return None, f"subsets.png skipped: the cached embeddings have {embeddings.shape[0]} rows, the pool {len(pool)}."
    try:
        positions = {
            s: pool.positions([e.id for e in RunDir(chosen[chosen["strategy"] == s]["run_dir"].iloc[0]).read_selection()])
            for s in dict.fromkeys(chosen["strategy"])
        }
    except (RunFileError, DataError) as exc:  # a damaged file or another pool only costs this plot
        return None, f"subsets.png skipped: {exc}"
    return Subsets(seed, budget, embeddings, pool, positions), None


# --------------------------------------------------------------------------- helpers


def _first_config(configs: dict, run_dirs) -> dict:
    found = (configs.get(run_dir) for run_dir in run_dirs)
    return next((c for c in found if c is not None), {})


def _study_record(study_dir: Path) -> dict:
    path = study_dir / STUDY_RECORD
    try:
        return read_json(path) if path.exists() else {}
    except (OSError, ValueError):
        return {}


def _read_finished_run(path: Path) -> tuple[dict, dict | None, list[dict]] | None:
    """A finished run's metrics, config and round rows; None if it has not finished. Raises
    RunFileError if one of them is damaged."""
    run = RunDir(path)
    metrics = run.read_metrics()
    if metrics is None:
        return None
    return metrics, run.read_config(), run.read_rounds()


def _error_line(path: Path) -> str | None:
    """The last line of a run's error.txt; None for a run that did not fail (not run yet, running)."""
    error = path / RunDir.ERROR
    if not error.exists():
        return None
    lines = [line for line in error.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"


def _labels_per_class(metrics: dict, config: dict | None) -> float | None:
    """Training examples per class of the task (the scale on which budgets compare across tasks)."""
    names = ((config or {}).get("data") or {}).get("label_names")
    n_train = metrics.get("n_train")
    return round(n_train / len(names), 2) if names and n_train is not None else None


def _result_row(where: dict, metrics: dict, config: dict, round_rows: list[dict], path: Path) -> dict:
    rounds = config.get("rounds")
    if rounds is None and round_rows:
        rounds = max(len(round_rows) - 1, 0)
    return {
        **where,
        "preset": config.get("preset"),
        "n_train": metrics.get("n_train"),
        "per_class": _labels_per_class(metrics, config),
        "accuracy": metrics.get("accuracy"),
        "f1": metrics.get("f1"),
        "seconds": metrics.get("seconds"),
        **run_costs(round_rows),
        "rounds": rounds,
        "run_dir": str(path),
        "failed": metrics.get("failed"),  # a final fine-tuning that collapsed (the collapse guard's verdict)
    }


def _in_study_order(runs: pd.DataFrame, record: dict) -> pd.DataFrame:
    """Sorted by strategy, budget and seed; strategies in the study's order (its grid lists
    them in config order), else baseline first and full last."""
    if runs.empty:
        return runs
    names = list(dict.fromkeys(runs["strategy"]))
    planned = dict.fromkeys(r.get("strategy") for r in record.get("runs", []))
    known = [n for n in planned if n in names]
    order = known + sorted(n for n in names if n not in known)
    if not known:  # no study.json: baseline first, full last
        full = full_strategies(runs)
        order = sorted(order, key=lambda n: (n != BASELINE, n in full, n))
    rank = runs["strategy"].map({n: i for i, n in enumerate(order)}).rename("_order")
    return runs.assign(_order=rank).sort_values(["_order", "budget", "seed"]).drop(columns="_order").reset_index(drop=True)


def _missing_runs(study_dir: Path, record: dict, runs: pd.DataFrame, failures: pd.DataFrame) -> list[dict]:
    """The planned runs (study.json) that neither finished nor failed."""
    done = {Path(p).resolve() for p in runs["run_dir"]} | {Path(p).resolve() for p in failures["run_dir"]}
    return [r for r in record.get("runs", []) if (study_dir / r["run_dir"]).resolve() not in done]


def _reload_splits(config: dict):
    """The run's data, reloaded as the run loaded it and checked against what it recorded."""
    from ..data import load_recorded_data

    splits = load_recorded_data(config)
    if splits.eval.class_counts() != config.get("data", {}).get("eval_class_counts"):
        raise ValueError("the reloaded evaluation set differs from the one the runs used")
    return splits


def _left_out_note(missing: int, unreadable: list[str]) -> str | None:
    notes = []
    if missing:
        notes.append(f"{missing} run(s) saved no {RunDir.EVAL_PREDICTIONS} or {RunDir.EVAL_PROBS}")
    if unreadable:
        notes.append("unreadable: " + "; ".join(unreadable[:3]) + (" ..." if len(unreadable) > 3 else ""))
    if not notes:
        return None
    return (
        "Sentence-level tests leave out runs without per-sentence predictions (" + "; ".join(notes) + "). Comparisons "
        "that involve them get no verdict (untested); data paths recorded relative to the directory a study ran in "
        "are read relative to the current one."
    )
