"""The data types: a labelled text data set (:class:`TextDataset`) with stable ids, a pool and its
evaluation set (:class:`DataSplits`), fingerprints, and class-stratified sampling."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError

__all__ = ["TextDataset", "DataSplits", "fingerprint", "stratified_sample", "quotas"]


@dataclass(frozen=True)
class TextDataset:
    """Texts with integer labels and stable ids.

    Attributes
    ----------
    ids : ndarray of shape (n,)
        Row index of each example in its source split.
    texts : list of str
    labels : ndarray of shape (n,)
        Class ids in ``range(len(label_names))``.
    label_names : tuple of str
        A readable name per class.
    label_values : tuple
        The source's own value per class (``0``/``1`` for SST-2, ``"spam"``, ``2``): what the
        user's file holds, written back wherever a label leaves alsel. Default: the names.
    """

    ids: np.ndarray
    texts: list[str]
    labels: np.ndarray
    label_names: tuple[str, ...]
    label_values: tuple = ()

    def __post_init__(self):
        if not self.label_values:
            object.__setattr__(self, "label_values", tuple(self.label_names))

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return len(self.label_names)

    def subset(self, positions) -> TextDataset:
        positions = np.asarray(positions, dtype=np.int64)
        return TextDataset(
            ids=self.ids[positions],
            texts=[self.texts[i] for i in positions],
            labels=self.labels[positions],
            label_names=self.label_names,
            label_values=self.label_values,
        )

    def class_counts(self, positions=None) -> dict[str, int]:
        labels = self.labels if positions is None else self.labels[np.asarray(positions, dtype=np.int64)]
        counts = np.bincount(labels, minlength=self.n_classes)
        return {name: int(c) for name, c in zip(self.label_names, counts)}

    def fingerprint(self) -> str:
        """sha256 of the texts in order: the key under which their embeddings are cached."""
        return fingerprint(self.texts)

    def labelled_fingerprint(self) -> str:
        """sha256 of the texts, their labels and the class names and values: what a model
        trained or evaluated on this data depends on (the round cache's key)."""
        digest = hashlib.sha256(self.fingerprint().encode())
        digest.update(np.ascontiguousarray(self.labels, dtype=np.int64).tobytes())
        digest.update(json.dumps([list(self.label_names), [str(v) for v in self.label_values]]).encode())
        return digest.hexdigest()

    def positions(self, ids) -> np.ndarray:
        """The positions of the examples with these source ``ids``, in the order given.

        Raises
        ------
        DataError
            If an id is not in this data set (a selection read against another pool).
        """
        position_of = {int(i): p for p, i in enumerate(self.ids)}
        unknown = [int(i) for i in ids if int(i) not in position_of]
        if unknown:
            raise DataError(
                f"{len(unknown)} selected id(s) are not in the pool (first: {unknown[0]}); was the selection made on other data?"
            )
        return np.array([position_of[int(i)] for i in ids], dtype=np.int64)

    def label_value(self, position: int):
        """The source's own label of the example at ``position``."""
        return self.label_values[int(self.labels[position])]


def fingerprint(texts) -> str:
    """sha256 of ``texts`` in order."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class DataSplits:
    """A pool and an evaluation set. ``sources`` holds in-memory data the splits were drawn from
    (``"pool"``: the train data before any hold-out, ``"eval"``: a given evaluation set), so a
    run can keep them as files that :func:`load_data` reads back to the same splits."""

    pool: TextDataset
    eval: TextDataset
    description: dict
    sources: dict = field(default_factory=dict)


def quotas(class_shares, k: int) -> np.ndarray:
    """Split ``k`` into per-class counts proportional to ``class_shares``, exact up to rounding.

    Largest-remainder rounding: the counts sum to ``k`` and each is floor or ceil of its share.

    >>> quotas([30, 70], 10).tolist()
    [3, 7]
    """
    shares = np.asarray(class_shares, dtype=np.float64)
    exact = shares / shares.sum() * k
    counts = np.floor(exact).astype(np.int64)
    # Ties in the remainder go to the lower class id, so the result is deterministic.
    order = np.lexsort((np.arange(len(exact)), -(exact - counts)))
    counts[order[: k - counts.sum()]] += 1
    return counts


def stratified_sample(labels, n: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of a class-stratified random sample of ``n`` of ``labels``."""
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    per_class = np.minimum(quotas(counts, n), counts)
    chosen = [rng.choice(np.flatnonzero(labels == c), size=q, replace=False) for c, q in zip(classes, per_class)]
    return np.sort(np.concatenate(chosen)).astype(np.int64)
