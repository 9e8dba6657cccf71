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
``{preset: NAME}``, or a loop spec of selection options (``init``, ``acq``, ``rounds``, ...) and
learner options (``learner``, ``final_learner``), with its own ``budgets`` if it needs other
budgets than the study's. Training and data options are study-level only: every run with seed ``s`` fine-tunes the same
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

The package, in the order a study happens:

- :mod:`~alsel.study.spec`: the study file's own keys (:class:`StudySpec`) and strategies;
- :mod:`~alsel.study.layout`: where ``study.json`` and each run's directory lie;
- :mod:`~alsel.study.grid`: :func:`load_study` -> :class:`Study` -> its runs (:class:`RunSpec`),
  each run's config built and checked before the first one runs;
- :mod:`~alsel.study.cell`: one run in its directory (skip, run or resume, record a failure);
- :mod:`~alsel.study.executors`: local, and :mod:`~alsel.study.ray_executor`;
- :mod:`~alsel.study.record`: ``study.json``; :mod:`~alsel.study.outcomes`: the summary table;
- :mod:`~alsel.study.runner`: :func:`run_study`, which ties them together.
"""

from .. import learners  # noqa: F401  (registers the built-in learners: a study resolves every run's config up front)
from .cell import execute_run
from .executors import EXECUTORS
from .grid import RunSpec, Study, load_study
from .outcomes import RunOutcome, StudySummary
from .runner import run_study
from .spec import StrategySpec, StudySpec

__all__ = [
    "StrategySpec",
    "StudySpec",
    "RunSpec",
    "Study",
    "RunOutcome",
    "StudySummary",
    "load_study",
    "run_study",
    "execute_run",
    "EXECUTORS",
]
