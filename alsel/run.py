"""A loop run wired to alsel's own learners: the entry points (the CLI, :func:`alsel.select`, a
study) and the tests run loops through here.

The loop layer (:mod:`alsel.loops`) defines what it needs from a learner and never imports one;
importing :mod:`alsel.learners` registers ``transformer`` and ``logreg`` with it, so a
``LoopConfig`` naming them resolves and runs.
"""

from . import learners  # noqa: F401  (registers the built-in learners with the loop)
from .loops.controller import LoopOutcome, default_out_dir, execute_loop, run_loop

__all__ = ["LoopOutcome", "default_out_dir", "execute_loop", "run_loop"]
