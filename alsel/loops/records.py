"""What a run records, as typed records: a :class:`RoundRecord` per line of ``rounds.jsonl``, and
the :class:`Checkpoint`, what a run has finished as of its last commit. :mod:`alsel.loops.rundir` writes and reads them."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["RoundRecord", "Checkpoint"]

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
    (``id``, ``round``, ``score``, ``label``, ``label_index``) and the seed pool's ids (where the
    seed pool is not kept). Not the progress display, :class:`alsel.progress.Progress`."""

    rounds: list[RoundRecord] = field(default_factory=list)
    selection: list[dict] = field(default_factory=list)
    seed_pool_ids: list[int] | None = None
