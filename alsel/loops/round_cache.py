"""Entries of the round cache: one round's trained model, as far as the loop needs it.

An entry is a directory holding ``outcome.json`` (epochs, accuracy, f1, timings, the learner's
training report),
``eval_probs.npy`` and, where the round scored candidates, ``probs.npy`` and the extras
(``features.npy``, ``dynamics.npy``). It is written whole into a temporary directory and renamed
into place, so a crash never leaves half an entry under its final name. One that still does not
read back whole (a damaged disk, a bad copy) is recomputed: a cache never stops a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..io import staging_dir, write_json, write_npy
from ..models import model_identity
from ..progress import SILENT, Progress
from .config import ResolvedConfig, options
from .records import RoundOutcome

__all__ = ["ROUND_CACHE_FORMAT", "load_outcome", "round_key", "save_outcome"]

#: Bump when what a round-cache entry holds, or what its key covers, changes.
ROUND_CACHE_FORMAT = 3

OUTCOME = "outcome.json"
SCALARS = ("epochs", "accuracy", "f1", "train_seconds", "score_seconds")
#: What the learner reported of its training (None for one that reports nothing).
REPORT = "training"


def round_key(
    config: ResolvedConfig,
    pool,
    eval_set,
    *,
    train,
    held,
    candidates,
    needs: frozenset[str],
    learner: str,
    embedder_key: str,
    warm_from: str | None = None,
) -> str:
    """Everything a round's outcome depends on: the texts *and labels* of ``pool`` and
    ``eval_set``, the training and learner options and the model's identity, which examples it
    trains on (``train``, pool positions), validates on (``held``) and scores (``candidates``, or
    None), how they are scored and, for a warm start, the identity of the model it continues from
    (``warm_from``: that round's key); a new format version invalidates old entries."""
    c = config
    payload = {
        "alsel": __version__,
        "format": ROUND_CACHE_FORMAT,
        "learner": learner,
        "learner_options": c.learner_options,
        "training": {k: getattr(c, k) for k in options("training")},
        "model_identity": model_identity(c.model),
        "device": c.device,
        "pool": pool.labelled_fingerprint(),
        "eval": eval_set.labelled_fingerprint(),
        "train": hashlib.sha256(pool.ids[train].tobytes()).hexdigest(),
        "validation": hashlib.sha256(pool.ids[held].tobytes()).hexdigest(),
        "candidates": None if candidates is None else hashlib.sha256(pool.ids[candidates].tobytes()).hexdigest(),
        "scorer": c.scorer,
        # The probe scorer and learners other than the fine-tuner may read the embeddings.
        "embedder": embedder_key if (c.scorer == "probe" or learner != "transformer") else None,
        # Only what changes the stored outcome: strategies that need just probabilities share it.
        "needs": sorted(needs & {"features", "dynamics"}),
    }
    if warm_from is not None:  # only then: a round trained from the pretrained weights keeps its key
        payload["warm_from"] = warm_from
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


def load_outcome(path: Path, *, n_eval: int, n_candidates: int | None, progress: Progress = SILENT) -> RoundOutcome | None:
    """The entry at ``path`` as :func:`save_outcome` took it, marked ``cached`` and with its key,
    the directory's name; None if there is none or it is damaged (not whole, or arrays whose rows
    are not ``n_eval`` evaluation examples and ``n_candidates`` candidates)."""
    if not path.is_dir():
        return None
    try:
        outcome = json.loads((path / OUTCOME).read_text(encoding="utf-8"))
        arrays = {p.stem: np.load(p, allow_pickle=False) for p in sorted(path.glob("*.npy"))}
    except (OSError, ValueError, EOFError):  # a cut file: numpy and json both raise one of these
        outcome, arrays = None, {}
    if not _whole(outcome, arrays, n_eval, n_candidates):
        progress.log(f"cache entry {path} is damaged; recomputing")
        return None
    return RoundOutcome(
        **{k: outcome[k] for k in SCALARS},
        training=outcome.get(REPORT),
        eval_probs=arrays.pop("eval_probs"),
        probs=arrays.pop("probs", None),
        extras=arrays,
        cached=True,
        key=path.name,
    )


def _whole(outcome, arrays: dict[str, np.ndarray], n_eval: int, n_candidates: int | None) -> bool:
    if not isinstance(outcome, dict) or not all(k in outcome for k in SCALARS) or "eval_probs" not in arrays:
        return False
    if any(a.dtype.kind != "f" or a.ndim == 0 for a in arrays.values()):
        return False
    per_candidate = [a for name, a in arrays.items() if name != "eval_probs"]
    if per_candidate and (n_candidates is None or any(a.shape[0] != n_candidates for a in per_candidate)):
        return False
    return arrays["eval_probs"].ndim == 2 and arrays["eval_probs"].shape[0] == n_eval


def save_outcome(path: Path, outcome: RoundOutcome) -> None:
    """Store ``outcome`` (the scalars, the training report, ``eval_probs``, ``probs`` where
    there are any, ``extras``; not the model) at ``path``."""
    staging = staging_dir(path)
    try:
        arrays = {"eval_probs": outcome.eval_probs, "probs": outcome.probs, **outcome.extras}
        for name, array in arrays.items():
            if array is not None:
                write_npy(staging / f"{name}.npy", array)
        write_json(staging / OUTCOME, {**{k: getattr(outcome, k) for k in SCALARS}, REPORT: outcome.training})
        _discard(path)  # a damaged entry: this call is its recomputation
        try:
            os.replace(staging, path)
        except OSError:
            if not path.is_dir():
                raise
            # Another process stored the same entry meanwhile (a study's runs share seed
            # models): theirs is as good as ours.
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _discard(path: Path) -> None:
    """Remove the entry at ``path``: first renamed aside, so no reader sees it half deleted."""
    if not path.exists():
        return
    doomed = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".old"))
    with contextlib.suppress(FileNotFoundError):  # another process discarded it first
        os.replace(path, doomed / path.name)
    shutil.rmtree(doomed, ignore_errors=True)
