"""Per-example scores from class probabilities: plain functions over ``(n, n_classes)`` arrays.

Each states its direction. ``p_gold`` is cleanlab's self-confidence: the probability the model
gives the gold label (low = the model finds the example hard or mislabelled).
"""

from __future__ import annotations

import numpy as np

__all__ = ["p_gold", "confidence", "entropy", "margin", "el2n", "by_name", "summarize", "SCORES", "LABELLED_SCORES"]


def _check_probs(probs) -> np.ndarray:
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise ValueError(f"probs must have shape (n, n_classes >= 2), got {probs.shape}")
    return probs


def p_gold(probs, labels) -> np.ndarray:
    """Probability of the gold label, in [0, 1]; higher = easier.

    >>> p_gold([[0.9, 0.1], [0.3, 0.7]], [0, 0]).tolist()
    [0.9, 0.3]
    """
    probs = _check_probs(probs)
    return _p_gold(probs, _check_labels(probs, labels))


def _check_labels(probs, labels) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (probs.shape[0],):
        raise ValueError(f"labels must have shape ({probs.shape[0]},), got {labels.shape}")
    return labels


def _p_gold(probs, labels):
    return probs[np.arange(len(labels)), labels]


def confidence(probs) -> np.ndarray:
    """Largest class probability, in [1/n_classes, 1]; higher = more certain (needs no label).

    >>> confidence([[0.9, 0.1], [0.4, 0.6]]).tolist()
    [0.9, 0.6]
    """
    return _confidence(_check_probs(probs))


def _confidence(probs):
    return probs.max(axis=1)


def entropy(probs) -> np.ndarray:
    """Shannon entropy in nats, in [0, log n_classes]; higher = more uncertain.

    >>> entropy([[0.5, 0.5]]).round(4).tolist()
    [0.6931]
    """
    return _entropy(_check_probs(probs))


def _entropy(probs):
    safe = np.clip(probs, 1e-12, 1.0)
    return -(probs * np.log(safe)).sum(axis=1)


def margin(probs) -> np.ndarray:
    """Gap between the two largest probabilities, in [0, 1]; lower = nearer the decision boundary.

    >>> margin([[0.9, 0.1], [0.45, 0.55]]).round(2).tolist()
    [0.8, 0.1]
    """
    return _margin(_check_probs(probs))


def _margin(probs):
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def el2n(probs, labels) -> np.ndarray:
    """L2 norm of ``probs`` minus the one-hot gold label, in [0, sqrt(2)]; higher = harder.

    The EL2N score of Paul et al. (2021), "Deep Learning on a Data Diet".

    >>> el2n([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], [0, 0, 0]).round(4).tolist()
    [0.0, 0.7071, 1.4142]
    """
    probs = _check_probs(probs)
    return _el2n(probs, _check_labels(probs, labels))


def _el2n(probs, labels):
    error = probs.copy()
    error[np.arange(len(labels)), labels] -= 1.0
    return np.sqrt((error**2).sum(axis=1))


def _cross_entropy(probs, labels):
    """Cross-entropy loss ``-log p_gold`` in nats, in [0, ~27.6] (p_gold clipped at 1e-12); higher = harder."""
    return np.log(1.0 / np.clip(_p_gold(probs, labels), 1e-12, 1.0))


SCORES = {"confidence": _confidence, "entropy": _entropy, "margin": _margin}
#: Scores that also need the gold labels.
LABELLED_SCORES = {"p_gold": _p_gold, "el2n": _el2n, "loss": _cross_entropy}


def by_name(name: str, probs, labels=None) -> np.ndarray:
    """The score called ``name`` (a key of ``SCORES`` or ``LABELLED_SCORES``) for each row.

    Parameters
    ----------
    name : str
    probs : array-like of shape (n, n_classes)
    labels : array-like of shape (n,), optional
        Gold labels; required by the scores in ``LABELLED_SCORES``.

    Returns
    -------
    ndarray of shape (n,)

    >>> by_name("loss", [[0.5, 0.5]], [0]).round(4).tolist()
    [0.6931]
    """
    probs = _check_probs(probs)
    if name in SCORES:
        return SCORES[name](probs)
    if name not in LABELLED_SCORES:
        raise ValueError(f"unknown score {name!r}; choose one of: {', '.join(sorted(SCORES | LABELLED_SCORES))}")
    if labels is None:
        raise ValueError(f"score {name!r} needs the gold labels")
    return LABELLED_SCORES[name](probs, _check_labels(probs, labels))


def summarize(probs, labels=None) -> dict[str, dict[str, float]]:
    """Mean, min and max of every score (``p_gold`` only where labels are given)."""
    probs = _check_probs(probs)
    columns = {name: fn(probs) for name, fn in SCORES.items()}
    if labels is not None:
        columns["p_gold"] = _p_gold(probs, np.asarray(labels, dtype=np.int64))
    return {
        name: {"mean": round(float(v.mean()), 6), "min": round(float(v.min()), 6), "max": round(float(v.max()), 6)}
        for name, v in sorted(columns.items())
        if len(v)
    }
