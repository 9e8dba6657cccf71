"""A round's model scoring as Ray tasks (``--executor ray``).

The candidates are cut into contiguous chunks of :data:`SCORE_CHUNK_ROWS` texts, a constant, so
the chunks (and so the probabilities) do not depend on the cluster's size. The round's learner
goes to the cluster's object store once (``ray.put``); each chunk is a task that reads it from
there and calls its ``predict_proba``, on one CPU and one torch thread (one GPU where the cluster
has GPUs), on a local Ray or the cluster at ``address``
(:func:`alsel.ray_cluster.ray_session`). The driver puts the chunks' probabilities (and features,
where asked) back together in candidate order.

A learner batches each chunk on its own (the fine-tuner sorts a chunk's texts by length and cuts
batches of ``eval_batch_size``), so the batches, and their padding, differ from those of one
local scoring of every candidate, and the probabilities may differ from a local run's in the
last bits, as they do with other batches or other hardware. Measured on the tests' tiny BERT
over 2,000 SST-2 sentences in chunks of 16 to 1,000: in fp32 no probability moved by more than
6e-8 (at most 46 of the 4,000 moved at all); under bf16 autocast (``precision="auto"`` on a CPU
with bf16) by up to 2.5e-5, as bf16 rounds what the changed padding shifts. No predicted class
changed, and the tests' two-round loops on two Ray workers selected what local ones did (margin
in fp32 and under bf16 autocast, badge in fp32).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, first_line
from ..progress import SILENT, Progress
from ..ray_cluster import ray_session, task_resources
from .learning import Learner, predict_proba

__all__ = ["SCORE_CHUNK_ROWS", "chunk_bounds", "predict_on_ray"]

#: Candidates per Ray task. A task's output comes back whole: with features, 20,000 of a base
#: model's 768 floats are 61 MB.
SCORE_CHUNK_ROWS = 20_000


def chunk_bounds(n: int, rows: int) -> list[tuple[int, int]]:
    """``(start, end)`` of the contiguous chunks of ``rows`` that cover ``n`` texts; no texts are
    one empty chunk, which a learner scores as it would locally.

    >>> chunk_bounds(5, 2)
    [(0, 2), (2, 4), (4, 5)]
    >>> chunk_bounds(0, 2)
    [(0, 0)]
    """
    return [(start, min(start + rows, n)) for start in range(0, max(n, 1), rows)]


def predict_on_ray(
    learner: Learner, texts: Sequence[str], *, return_features: bool = False, address: str | None = None, progress: Progress = SILENT
):
    """``predict_proba(learner, texts, return_features=...)``, computed by Ray tasks, one per
    chunk of :data:`SCORE_CHUNK_ROWS` texts: probabilities, ndarray of shape (n, n_classes), and
    with ``return_features`` the features, ndarray of shape (n, d), in the order of ``texts``.

    A learner that does not pickle raises a one-line :class:`ConfigError`.
    """
    bounds = chunk_bounds(len(texts), SCORE_CHUNK_ROWS)
    with ray_session(address, progress) as ray:
        try:
            shared = ray.put(learner)
        except TypeError as exc:  # what Ray raises for a value that does not serialize
            raise ConfigError(f"--executor ray: {type(learner).__name__} cannot be sent to Ray workers ({first_line(exc)})") from None
        task = ray.remote(max_retries=1, **task_resources(ray))(_predict_on_worker)
        refs = {task.remote(shared, list(texts[start:end]), return_features): (start, end) for start, end in bounds}
        progress.log(f"scoring {len(texts):,} candidates in {len(bounds)} chunks on Ray ({ray.cluster_resources().get('CPU', 0):.0f} CPUs)")
        chunks = {}
        pending = list(refs)
        with progress.task(f"scoring {len(texts):,} on Ray", total=len(texts)) as advance:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    start, end = refs[ref]
                    chunks[start] = ray.get(ref)
                    advance(end - start)
        # copied out of the object store (ray.get gives read-only views of it) while the session is open
        return _joined([chunks[start] for start, _ in bounds], return_features)


def _joined(outputs: list, return_features: bool):
    """The chunks' ``predict_proba`` outputs as one, copied into this process's memory."""
    if not return_features:
        return np.concatenate([np.asarray(probs) for probs in outputs])
    return np.concatenate([np.asarray(probs) for probs, _ in outputs]), np.concatenate([np.asarray(x) for _, x in outputs])


def _predict_on_worker(learner: Learner, texts: list[str], return_features: bool):
    """The body of one Ray task: a chunk's ``predict_proba``, on one torch thread (the task's one
    CPU, or the one that feeds its GPU)."""
    import torch

    torch.set_num_threads(1)
    return predict_proba(learner, texts, return_features=return_features)
