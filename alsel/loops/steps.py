"""The loop's choices one batch at a time, for a pool labelled as it goes (:mod:`alsel.labelling`)."""

from __future__ import annotations

import numpy as np

from ..data import TextDataset
from ..progress import SILENT, Progress
from ..strategies import Selection
from .config import LoopConfig, build_strategy
from .controller import LoopRun
from .rundir import MemoryRunDir

__all__ = ["LoopSteps"]


class LoopSteps(LoopRun):
    """The loop's choices one batch at a time, on a pool whose labels arrive in between (an
    annotation project, :mod:`alsel.labelling`).

    Batch ``r`` (from 0) is what :func:`execute_loop` adds in round ``r``, through the same code
    (seeds, validation split, round cache, tie-breaking): batch 0 by the initial-pool strategy,
    batch ``r > 0`` by ``acq`` on the round learner trained on the batches before it. With a
    loop's batch sizes and the true labels it selects what that loop selects. Without ``acq``,
    or while the labels hold one class, the initial-pool strategy chooses from the unlabelled rest.

    Parameters
    ----------
    config : LoopConfig
        A config whose seed pool is kept (``keep_init``) and whose rounds start from the
        pretrained weights (no ``warm_start``); its data and budget options are not read.
    pool : TextDataset
        The pool; its labels are read only at the labelled positions. There is no evaluation set.
    """

    def __init__(self, config: LoopConfig, pool: TextDataset, progress: Progress = SILENT):
        super().__init__(config.resolved(), MemoryRunDir(), progress)
        self.pool, self.eval = pool, pool.subset(np.arange(0))

    def acquires(self, labelled, round_: int) -> bool:
        """Whether ``acq`` chooses batch ``round_`` after ``labelled`` (else the initial-pool strategy)."""
        return round_ > 0 and self.config.acq is not None and np.unique(self.pool.labels[np.asarray(labelled, dtype=np.int64)]).size > 1

    def next_batch(self, labelled, round_: int, k: int) -> Selection:
        """The ``k`` examples of batch ``round_`` after the batches ``labelled`` (pool positions in
        the order they were chosen)."""
        labelled = np.asarray(labelled, dtype=np.int64)
        candidates = np.setdiff1d(np.arange(len(self.pool)), labelled)
        if self.config.acq is None or not self.acquires(labelled, round_):
            return self._initial_selection(candidates, labelled, round_, k)
        acq = build_strategy(self.config.acq, self.config)
        outcome = self._train_and_score(np.sort(labelled), candidates, acq, self.round_learner)
        return self._acquire(acq, outcome, candidates, labelled, round_ - 1, k)

    def save_final_model(self, labelled) -> None:
        """Train the final learner on ``labelled`` and save it to the config's ``save_model``, as
        a loop trains and saves its final model."""
        self._keep_final_model(
            self._train_and_score(np.sort(np.asarray(labelled, dtype=np.int64)), None, None, self.final_learner, keep_model=True)
        )
