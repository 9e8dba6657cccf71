"""A loop run: what the entry points (the CLI, :func:`alsel.select`, a study) and the tests run.

The loop layer (:mod:`alsel.loops`) defines what it needs from a learner and never imports one;
it names alsel's own learners by ``module:Class`` and imports them when a run asks for them.
"""

from .loops.controller import LoopOutcome, default_out_dir, execute_loop, run_loop

__all__ = ["LoopOutcome", "default_out_dir", "execute_loop", "run_loop"]
