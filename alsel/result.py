"""What :func:`alsel.select` returns: the selection (ids, pool positions, a frame), the per-round
log as typed records, the final metrics and the config that produced them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .export import selection_frame
from .loops.config import ResolvedConfig
from .loops.controller import LoopOutcome
from .loops.records import RoundRecord

__all__ = ["RoundRecord", "SelectionResult"]


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """The examples a loop selected, in acquisition order, and how it got there.

    Attributes
    ----------
    ids : ndarray of shape (n_selected,)
        Row ids of the selected examples in the source's training data.
    indices : ndarray of shape (n_selected,)
        Their positions in the pool (the training data less any held-out evaluation rows).
    frame : DataFrame
        One row per selected example: ``id``, ``text``, ``label`` (the source's own value),
        ``round`` (the first round that trained on it), ``score`` (NaN where no score decided).
    rounds : list of RoundRecord
    metrics : dict
        The final model: ``accuracy``, ``f1``, ``n_train``, ``n_eval``, ``seconds``,
        ``majority_accuracy``.
    config : ResolvedConfig
        The resolved options of the run (a :class:`~alsel.loops.config.LoopConfig` with every
        default filled in).
    out : Path, optional
        The run directory, where there is one.
    """

    ids: np.ndarray
    indices: np.ndarray
    frame: pd.DataFrame
    rounds: list[RoundRecord]
    metrics: dict
    config: ResolvedConfig
    out: Path | None = None

    @classmethod
    def from_outcome(cls, outcome: LoopOutcome, out: str | Path | None = None) -> SelectionResult:
        indices = outcome.pool.positions([e.id for e in outcome.selection])
        frame = selection_frame(outcome.pool, indices, outcome.selection)
        return cls(
            ids=frame["id"].to_numpy(),
            indices=indices,
            frame=frame,
            rounds=list(outcome.rounds),
            metrics=dict(outcome.metrics),
            config=outcome.config,
            out=None if out is None else Path(out),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        m = self.metrics
        return (
            f"SelectionResult({len(self):,} examples in {len(self.rounds)} rounds, accuracy {m['accuracy']:.4f}, "
            f"f1 {m['f1']:.4f} on {m['n_eval']:,} evaluation examples)"
        )

    # ---------------------------------------------------------------- writing the frame
    def to_csv(self, path: str | Path) -> None:
        self.frame.to_csv(path, index=False)

    def to_jsonl(self, path: str | Path) -> None:
        self.frame.to_json(path, orient="records", lines=True, force_ascii=False)

    def to_parquet(self, path: str | Path) -> None:
        self.frame.to_parquet(path, index=False)

    def to_dataset(self):
        """The frame as a ``datasets.Dataset``, e.g. for a Trainer of your own."""
        import datasets

        return datasets.Dataset.from_pandas(self.frame, preserve_index=False)
