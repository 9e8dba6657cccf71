"""When strategies leave their exact all-pairs paths for approximate ones.

``approximate: auto`` (every such strategy's default) takes the approximate path from
:data:`APPROXIMATE_FROM` rows on; ``true`` and ``false`` force either path. The approximate paths
are the inverted file of :mod:`~alsel.strategies.neighbours` (kNN graphs, typicality,
near-duplicates) and the two-level KMeans of :mod:`~alsel.strategies.kmeans`.
"""

from __future__ import annotations

from ..params import Choice, Flag

__all__ = ["APPROXIMATE_FROM", "APPROXIMATE_OPTION", "use_approximate"]

#: Rows (candidates plus labelled examples) from which ``approximate: auto`` takes the
#: approximate paths. Every pool alsel has selected from so far is below it (SST-2's is 67,349,
#: where the exact paths take seconds to about two minutes), so ``auto`` changes none of their
#: selections; from 100,000 rows on the exact all-pairs work grows past what a 2-core CPU does in
#: a few minutes.
APPROXIMATE_FROM = 100_000
#: What a strategy's ``approximate`` option accepts: ``auto``, ``true`` or ``false``.
APPROXIMATE_OPTION = (Choice(("auto",)), Flag())


def use_approximate(approximate: str | bool, n_rows: int) -> bool:
    """Whether a strategy's ``approximate`` option (``"auto"``, True or False) takes the
    approximate path for ``n_rows`` rows.

    >>> use_approximate("auto", 67_349), use_approximate("auto", 1_000_000), use_approximate(True, 10)
    (False, True, True)
    """
    return n_rows >= APPROXIMATE_FROM if approximate == "auto" else bool(approximate)
