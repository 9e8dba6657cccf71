"""Approximate neighbours for pools too large for exact all-pairs search: an inverted file.

The exact paths (``knn_graph`` of facility location, typicality, ``near_duplicates``) compare
every pair of rows, O(n^2 d): 24 s and 137 s at SST-2's 67,349 sentences, hours at a million.
Here the rows are cut into ``ceil(2 sqrt(n))`` cells by a FAISS KMeans in the full dimension
(trained on a sample of 32 rows per cell, the coarse quantizer of FAISS's
``IndexIVFFlat``, Johnson, Douze & Jégou 2019), and each cell is compared, in the full
dimension, with the :data:`N_PROBE` cells whose centroids are nearest its own (itself first).
Probing by cell rather than by query keeps each comparison one BLAS product fed to FAISS's
top-k heaps, as the exact paths do; each row is compared with about ``N_PROBE * sqrt(n) / 2``
others instead of ``n``.

The cells come from a generator seeded with :data:`INDEX_SEED`, never from the strategy's: the
index is a function of the data alone, and forcing a path never shifts a strategy's own random
draws. The answer is deterministic (one BLAS thread, as :meth:`Strategy.select` sets).

Whether a strategy takes this path is its ``approximate`` option
(:func:`~alsel.strategies.approximate.use_approximate`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .kmeans import faiss_kmeans

__all__ = ["INDEX_SEED", "N_PROBE", "PAIR_TABLES", "Cells", "approximate_knn", "approximate_pairs", "cells"]

#: Cells each cell is compared with, itself included.
N_PROBE = 8
#: Seed of the cells (see the module docstring).
INDEX_SEED = 0
#: Inverted files whose pairs :func:`approximate_pairs` unites (near-duplicates for ``--dedup``).
PAIR_TABLES = 2
#: Training rows of the cells' KMeans per cell.
_TRAIN_PER_CELL = 32
#: Rows per side of one block product: at most 64 MiB of float32.
_BLOCK = 4096


@dataclass(frozen=True)
class Cells:
    """An inverted file: cell ``c`` holds the rows ``order[bounds[c]:bounds[c + 1]]`` (ascending)
    and is compared with the cells ``probes[c]`` (itself first)."""

    order: np.ndarray
    bounds: np.ndarray
    probes: np.ndarray


def cells(x: np.ndarray, *, n_probe: int = N_PROBE, seed: int = INDEX_SEED) -> Cells:
    """Cut the rows of ``x`` (float32, C-contiguous) into cells (see the module docstring);
    ``seed`` seeds the cells' KMeans."""
    n = len(x)
    rng = np.random.default_rng(seed)
    n_cells = min(math.ceil(2 * math.sqrt(n)), n // 2)
    if n_cells < 2:
        return Cells(order=np.arange(n), bounds=np.array([0, n]), probes=np.zeros((1, 1), dtype=np.int64))
    # Cells clustered in a 64-d random projection (the first version) found 42% of the exact 20
    # nearest neighbours of SST-2's MiniLM embeddings and 89% of its near-duplicate pairs; in the
    # full dimension 57% and 95%, for about 1.3x the comparisons (docs/benchmarks.md).
    sample = np.sort(rng.choice(n, size=min(n, _TRAIN_PER_CELL * n_cells), replace=False))
    kmeans = faiss_kmeans(np.ascontiguousarray(x[sample]), n_cells, n_iter=10, rng=rng)
    labels = kmeans.index.search(x, 1)[1][:, 0]
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_cells + 1))
    probes = kmeans.index.search(kmeans.centroids, min(n_probe, n_cells))[1]
    # Each cell first (two equal centroids could list the other first).
    own = np.arange(n_cells)[:, None]
    rest = np.array([row[row != c][: probes.shape[1] - 1] for c, row in enumerate(probes)], dtype=np.int64).reshape(n_cells, -1)
    return Cells(order=order, bounds=bounds, probes=np.hstack([own, rest]))


def _blocks(xs: np.ndarray, index: Cells, *, symmetric: bool = False) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(q0, d0, block)``: ``block = xs[q0:q1] @ xs[d0:d1].T`` over every cell and the cells it
    probes, with ``xs`` the rows in cell order (positions, not rows). ``symmetric``: of two
    cells that probe each other only the first compares them (for pairs that are found from
    either side)."""
    mutual = set()
    if symmetric:
        probed = {(int(c), int(p)) for c, row in enumerate(index.probes) for p in row}
        mutual = {(c, p) for c, p in probed if p < c and (p, c) in probed}
    for c in range(len(index.bounds) - 1):
        q_lo, q_hi = int(index.bounds[c]), int(index.bounds[c + 1])
        for p in index.probes[c]:
            if (c, int(p)) in mutual:
                continue
            d_lo, d_hi = int(index.bounds[p]), int(index.bounds[p + 1])
            for q0 in range(q_lo, q_hi, _BLOCK):
                for d0 in range(d_lo, d_hi, _BLOCK):
                    yield q0, d0, xs[q0 : min(q0 + _BLOCK, q_hi)] @ xs[d0 : min(d0 + _BLOCK, d_hi)].T


def approximate_knn(x: np.ndarray, k: int, *, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest rows of each row of ``x`` among the cells it probes, itself included.

    A row whose probed cells hold fewer than ``k`` rows (small pools only) gets its exact
    neighbours.

    Parameters
    ----------
    x : ndarray of shape (n, d)
    k : int
        At most ``n``.
    metric : {"ip", "l2"}
        Largest inner products, or smallest squared Euclidean distances.

    Returns
    -------
    neighbors : ndarray of shape (n, k), int64
        Rows, nearest first.
    values : ndarray of shape (n, k), float32
        Their inner products or squared distances (clipped at 0).
    """
    import faiss

    if metric not in ("ip", "l2"):
        raise ValueError(f"unknown metric {metric!r}; choose ip or l2")
    x = np.ascontiguousarray(x, dtype=np.float32)
    index = cells(x)
    xs = np.ascontiguousarray(x[index.order])
    sq = np.einsum("ij,ij->i", xs, xs)
    heap = faiss.ResultHeap(len(x), k, keep_max=metric == "ip")
    for q0, d0, block in _blocks(xs, index):
        if metric == "l2":
            block *= -2.0
            block += sq[q0 : q0 + block.shape[0], None]
            block += sq[None, d0 : d0 + block.shape[1]]
        block = np.ascontiguousarray(block)
        heap.heaps.addn(block.shape[1], faiss.swig_ptr(block), d0, q0, block.shape[0])
    heap.finalize()
    found = heap.I >= 0
    neighbors = np.where(found, index.order[np.maximum(heap.I, 0)], -1)
    out_neighbors = np.empty_like(neighbors)
    out_values = np.empty_like(heap.D)
    out_neighbors[index.order], out_values[index.order] = neighbors, heap.D
    whole = np.empty(len(x), dtype=bool)
    whole[index.order] = found.all(axis=1)
    short = np.flatnonzero(~whole)
    if len(short):
        flat = faiss.IndexFlatIP(x.shape[1]) if metric == "ip" else faiss.IndexFlatL2(x.shape[1])
        flat.add(x)
        out_values[short], out_neighbors[short] = flat.search(x[short], k)
    if metric == "l2":
        np.maximum(out_values, 0.0, out=out_values)
    return out_neighbors.astype(np.int64), out_values


def approximate_pairs(x: np.ndarray, threshold: float, *, tables: int = PAIR_TABLES) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of rows of ``x`` whose inner product is at least ``threshold``, among the pairs the
    cells of any of ``tables`` inverted files (their KMeans seeded ``INDEX_SEED``,
    ``INDEX_SEED + 1``, ...) compare (a pair is found from either side). A pair two rows that
    straddle a border of one file's cells misses is found when the other file puts them in one
    cell or in probed ones, as with the several hash tables of locality-sensitive hashing.

    Returns
    -------
    later, earlier : ndarray of shape (n_pairs,), int64
        Each pair once, ``earlier < later``, sorted by ``later`` then ``earlier``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    found = []
    for table in range(tables):
        index = cells(x, seed=INDEX_SEED + table)
        xs = np.ascontiguousarray(x[index.order])
        for q0, d0, block in _blocks(xs, index, symmetric=True):
            rows, cols = np.nonzero(block >= threshold)
            a, b = index.order[q0 + rows], index.order[d0 + cols]
            found.append(np.stack([np.maximum(a, b), np.minimum(a, b)])[:, a != b])
    pairs = np.unique(np.hstack(found) if found else np.empty((2, 0), dtype=np.int64), axis=1)
    return pairs[0].astype(np.int64), pairs[1].astype(np.int64)
