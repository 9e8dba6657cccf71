"""A Ray session for the work alsel spreads over processes or machines: a study's runs
(:mod:`alsel.study.ray_executor`), a pool's embedding shards (:mod:`alsel.embed`) and the
scoring of a round's candidates (:mod:`alsel.loops.ray_scoring`).

Without an address a local Ray starts (no dashboard, temporary files under the system temp dir,
no usage reports, no auth token in the home directory) and stops after; with one, alsel connects
to that cluster. A process that already has Ray initialised (a script that called ``ray.init``
itself, or a study run inside a Ray task) keeps its session, which alsel neither changes nor
shuts down.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import ConfigError
from .progress import Progress

__all__ = ["EXECUTOR_CHOICES", "RAY_EXTRA", "import_ray", "ray_session", "task_resources"]

#: Where work runs: ``local`` (this process) or ``ray``.
EXECUTOR_CHOICES = ("local", "ray")
RAY_EXTRA = "the ray executor needs `pip install 'alsel[ray]'`"


def import_ray():
    """The ``ray`` module; a one-line :class:`ConfigError` saying how to install it if missing."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_EXTRA) from None
    return ray


def _ray_env(local: bool) -> dict:
    """Environment for Ray: no usage reports, and for a Ray started here no token file in the
    home directory (Ray >= 2.59 writes ``~/.ray/auth_token`` unless auth is disabled)."""
    wanted = {"RAY_USAGE_STATS_ENABLED": "0"}
    if local:
        wanted["RAY_AUTH_MODE"] = "disabled"
    return {k: v for k, v in wanted.items() if k not in os.environ}


def _connect(ray, address: str | None, progress: Progress) -> bool:
    """Connect to the cluster at ``address``, or start a local Ray, unless this process already
    has one; True if it connected or started one here (and so must shut it down)."""
    if ray.is_initialized():
        return False
    common = {"log_to_driver": False, "logging_level": logging.WARNING, "configure_logging": False}
    if address:
        progress.log(f"connecting to the Ray cluster at {address}")
        ray.init(address=address, **common)
    else:
        temp_dir = Path(tempfile.gettempdir()) / "alsel-ray"
        progress.log(f"starting a local Ray (temporary files in {temp_dir})")
        ray.init(include_dashboard=False, _temp_dir=str(temp_dir), **common)
    return True


@contextmanager
def ray_session(address: str | None, progress: Progress) -> Iterator:
    """``with ray_session(address, progress) as ray:`` the ``ray`` module, connected to the
    cluster at ``address`` (else a local Ray) for the block, and disconnected after if the
    session started here."""
    ray = import_ray()
    env = _ray_env(local=address is None)
    os.environ.update(env)
    started_here = False
    try:
        started_here = _connect(ray, address, progress)
        yield ray
    finally:
        if started_here:
            ray.shutdown()
        for key in env:
            os.environ.pop(key, None)


def task_resources(ray) -> dict:
    """What a task of one model's work asks for on the connected cluster: one GPU where the
    cluster has GPUs, else one CPU (and the task should run torch on one thread)."""
    return {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}
