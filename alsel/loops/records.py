"""What a run records and passes between its parts, as typed records: a :class:`SelectionEntry` per
line of ``selection.jsonl``, a :class:`RoundRecord` per line of ``rounds.jsonl``, the
:class:`Checkpoint`, what a run has finished as of its last commit, and the :class:`RoundOutcome`,
what training and scoring one round's model gives the controller (and the round cache keeps).
:mod:`alsel.loops.rundir` writes and reads the first three."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from .learning import Learner

__all__ = ["SelectionEntry", "RoundRecord", "Checkpoint", "RoundOutcome"]


@dataclass(frozen=True, kw_only=True)
class SelectionEntry:
    """One line of ``selection.jsonl``: an example the run selected, in acquisition order.

    Attributes
    ----------
    id : int
        The example's row id in the source's training data.
    round : int
        The first round that trained on it: 0 for the initial pool, ``r + 1`` for what round
        ``r`` acquired.
    score : float, optional
        The score that decided the pick, rounded; None where none did (a random pick) or it was
        not finite.
    label : str, int or float
        The source's own label value (``0``/``1`` for SST-2, ``"spam"``).
    label_index : int, optional
        The label's class index, the position of its name in the run's ``label_names``; None
        only in runs written before it was recorded.
    """

    id: int
    round: int
    score: float | None
    label: str | int | float
    label_index: int | None = None

    def to_json(self) -> dict:
        """The selection.jsonl row: every field (a null ``score`` too), less a missing ``label_index``."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        return row if self.label_index is not None else {k: v for k, v in row.items() if k != "label_index"}

    @classmethod
    def from_json(cls, row: dict) -> SelectionEntry:
        """An entry from a selection.jsonl row; keys this version does not know are skipped. A
        row that lacks a required field raises ``TypeError``."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


#: Fields written only where they apply: a final round selects nothing, a round whose strategy
#: reads no probabilities has no score summaries, and one that used no new embeddings has no
#: embedding cost.
OPTIONAL = ("training", "select_seconds", "scores", "embed_seconds", "embed_cached_seconds")


@dataclass(frozen=True, kw_only=True)
class RoundRecord:
    """One row of ``rounds.jsonl``: the model trained in round ``round`` and what it acquired.

    Attributes
    ----------
    round : int
        0 trains on the initial pool; the last round trains the final model.
    n_labeled : int
        Examples the round's model trained on.
    in_result : bool
        False for a seed pool that is not part of the result.
    class_counts : dict
        Training examples per class name.
    epochs : int, optional
        Epochs the model trained for; None for a learner without epochs.
    accuracy, f1 : float
        The round's model on the evaluation set.
    train_seconds, score_seconds : float
        Training and evaluating the model; scoring the candidates (neither counts embeddings
        computed meanwhile: ``embed_seconds`` does).
    cached : bool
        Whether the round's model came from the round cache.
    training : dict, optional
        How the learner's training went, as it reports it (the fine-tuner: ``validation``
        examples held out of the selection, ``epochs`` run, ``best_epoch`` kept, ``stopped``,
        ``retries`` after collapses and, for a model that still collapsed, ``collapsed``).
    select_seconds : float, optional
        The strategy's time; absent in the last round.
    scores : dict, optional
        Summaries of the candidates' and the acquired examples' scores, where the strategy read
        probabilities.
    embed_seconds : float, optional
        What computing the embeddings first used in this round took, here or in the run that
        wrote their cache entry: a run's cost counts its embeddings whoever computed them.
    embed_cached_seconds : float, optional
        The part of ``embed_seconds`` read from the cache, so not spent in ``seconds``.
    n_acquired : int
        Examples acquired after the round (0 in the last round).
    seconds : float
        The whole round.
    """

    round: int
    n_labeled: int
    in_result: bool = True  # runs written before seed pools existed lack it
    class_counts: dict
    epochs: int | float | None
    accuracy: float
    f1: float
    train_seconds: float
    score_seconds: float
    cached: bool
    training: dict | None = None
    select_seconds: float | None = None
    scores: dict | None = None
    embed_seconds: float | None = None
    embed_cached_seconds: float | None = None
    n_acquired: int
    seconds: float

    def to_json(self) -> dict:
        """The rounds.jsonl row: every field, less the optional ones that are absent."""
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: v for k, v in row.items() if not (k in OPTIONAL and v is None)}

    @classmethod
    def from_json(cls, row: dict) -> RoundRecord:
        """A record from a rounds.jsonl row; keys this version does not know are skipped. A row
        that lacks a required field raises ``TypeError``."""
        return cls(**{f.name: row[f.name] for f in fields(cls) if f.name in row})


@dataclass
class Checkpoint:
    """What a run has finished as of its last commit point: its rounds, its selection entries
    and the seed pool's ids (where the seed pool is not kept). Not the progress display,
    :class:`alsel.progress.Progress`."""

    rounds: list[RoundRecord] = field(default_factory=list)
    selection: list[SelectionEntry] = field(default_factory=list)
    seed_pool_ids: list[int] | None = None


@dataclass(frozen=True, kw_only=True)
class RoundOutcome:
    """What training, evaluating and scoring with one round's model gave: the controller turns it
    into the round's :class:`RoundRecord` and acquisition; :mod:`alsel.loops.round_cache` keeps
    all of it but the model.

    Attributes
    ----------
    epochs : int, optional
        Epochs the model trained for; None for a learner without epochs.
    accuracy, f1 : float
        The model on the evaluation set, rounded.
    training : dict, optional
        The learner's report on its training (``training_``); None where it reports nothing.
    train_seconds, score_seconds : float
        Training and evaluating; scoring the candidates.
    eval_probs : ndarray of shape (n_eval, n_classes)
        The model's class probabilities on the evaluation set.
    probs : ndarray of shape (n_candidates, n_classes), optional
        The candidates' scores; None where the round scored none.
    extras : dict of str to ndarray
        Further per-candidate arrays the strategy needs (``features``, ``dynamics``).
    cached : bool
        Whether it came from the round cache.
    key : str
        The round cache key it is stored under: the identity of the round's model.
    learner : Learner, optional
        The trained model; None for an outcome read from the cache, which keeps no model.
    """

    epochs: int | float | None
    accuracy: float
    f1: float
    training: dict | None
    train_seconds: float
    score_seconds: float
    eval_probs: np.ndarray
    probs: np.ndarray | None = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    cached: bool = False
    key: str
    learner: Learner | None = None
