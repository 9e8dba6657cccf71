"""BADGE: k-means++ seeding on gradient embeddings, after Ash et al. (2020), "Deep Batch Active
Learning by Diverse, Uncertain Gradient Lower Bounds".

The gradient of the cross-entropy loss with respect to the last layer's weights, taking the
predicted class as the label, is ``g_i = (p_i - onehot(argmax p_i)) ⊗ h_i`` for class
probabilities ``p_i`` and penultimate features ``h_i`` (``state.extras["features"]``). Its norm
measures uncertainty, its direction what the example would teach. k-means++ seeding on the ``g_i``
(first the largest norm, as in the authors' code, then D² sampling) picks a batch both uncertain
and diverse.

``g_i`` is never built: with ``u_i = p_i - onehot(argmax p_i)``,
``<g_i, g_j> = <u_i, u_j> <h_i, h_j>``, so each seeding step costs O(n (n_classes + hidden)) time
and O(n) memory. (For two classes ``u_i`` is a multiple of ``(-1, 1)``, so ``g_i`` is ``h_i``
scaled by ``p_1 - onehot(argmax p_i)_1`` up to a fixed rotation.)
"""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .base import Selection, Strategy, register
from .kmeans import kmeans_pp_rows

__all__ = ["Badge", "gradient_kmeans_pp"]


def gradient_kmeans_pp(probs: np.ndarray, features: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding on the gradient embeddings ``(p_i - onehot(argmax p_i)) ⊗ h_i``.

    The first seed is the row of largest gradient norm (ties: the lowest row); each next one is
    drawn with probability proportional to its squared distance to the nearest seed, or uniformly
    from the unpicked rows once every distance is zero.

    Parameters
    ----------
    probs : ndarray of shape (n, n_classes)
    features : ndarray of shape (n, hidden)
    k : int
        At most ``n``.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of shape (k,)
        Distinct rows in pick order.
    """
    probs = np.asarray(probs, dtype=np.float64)
    h = np.ascontiguousarray(features, dtype=np.float32)
    n = len(probs)
    u = probs.copy()
    u[np.arange(n), probs.argmax(axis=1)] -= 1.0
    h_sq = np.einsum("ij,ij->i", h, h, dtype=np.float64)
    g_sq = (u * u).sum(axis=1) * h_sq  # squared norm of each gradient embedding

    def squared_distances(seed: int) -> np.ndarray:  # |g_i - g_seed|^2 without building g
        dot = (u @ u[seed]) * (h @ h[seed]).astype(np.float64)
        return g_sq + g_sq[seed] - 2.0 * dot

    return kmeans_pp_rows(n, k, int(np.argmax(g_sq)), squared_distances, rng)


@register
class Badge(Strategy):
    """k-means++ seeds among the candidates' gradient embeddings."""

    name = "badge"
    needs = frozenset({"probs", "features"})

    def _select(self, state, k):
        features = np.asarray(state.extras["features"])
        if features.ndim != 2 or features.shape[0] != len(state.candidates):
            raise ConfigError(f"{self.name}: features must have shape (n_candidates={len(state.candidates)}, hidden), got {features.shape}")
        rows = gradient_kmeans_pp(state.probs, features, k, state.random_state)
        return Selection(indices=state.candidates[rows])
