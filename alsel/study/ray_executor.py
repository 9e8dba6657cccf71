"""The Ray executor: one Ray task per run, on a local Ray started here or on a cluster.

A task asks for one GPU where the cluster has GPUs, else ``cpus_per_run`` CPUs (default: all of
one node's, since torch uses every core it is given). The session, local or on a cluster, is
:func:`alsel.ray_cluster.ray_session`'s. On a cluster, every node needs alsel installed and should see
the study directory (a shared file system); a worker on another node otherwise sends all of a
finished run's files back to the driver, but an interrupted run there cannot be resumed. Runs get their
path options made absolute (a worker's working directory may differ), so their configs name
them so, unlike the local executor's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..io import write_bytes
from ..loops.rundir import RunDir
from ..progress import SILENT, Progress
from ..ray_cluster import ray_session
from .cell import RunFn, execute_run, failure_line, write_error
from .grid import with_absolute_paths
from .outcomes import RunOutcome

if TYPE_CHECKING:
    from .grid import RunSpec, Study

__all__ = ["run_ray"]


def _ray_execute(spec: RunSpec, study_dir: str, run_fn: RunFn, driver_node: str | None) -> dict:
    """The body of one Ray task: run the cell, and if this worker is on another node than the
    driver, return the run's files so the driver can write them into its study directory."""
    import ray

    outcome = execute_run(spec, study_dir, run_fn, SILENT)
    elsewhere = driver_node is not None and ray.get_runtime_context().get_node_id() != driver_node
    files = run_files(outcome.run_dir) if elsewhere else {}
    return {"status": outcome.status, "metrics": outcome.metrics, "error": outcome.error, "seconds": outcome.seconds, "files": files}


def _ray_task_options(ray, cpus_per_run: int | None) -> dict:
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) >= 1:
        return {"num_gpus": 1}
    if cpus_per_run is not None:
        return {"num_cpus": cpus_per_run}
    per_node = [n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")]
    per_node = [c for c in per_node if c >= 1]
    # One run per node: torch already uses every core it is given.
    return {"num_cpus": int(min(per_node)) if per_node else 1}


def run_ray(study: Study, todo: list[RunSpec], run_fn: RunFn, progress: Progress) -> Iterator[RunOutcome]:
    """One Ray task per run, collected as they finish (so outcomes come in finishing order)."""
    with ray_session(study.address, progress) as ray:
        task_options = _ray_task_options(ray, study.cpus_per_run)
        progress.log(f"Ray: {ray.cluster_resources()}; each run asks for {task_options}")
        task = ray.remote(max_retries=1, **task_options)(_ray_execute)
        driver_node = ray.get_runtime_context().get_node_id()
        # A worker's working directory may not be this one: it gets the paths made absolute.
        refs = {
            task.remote(replace(spec, options=with_absolute_paths(spec.options)), str(study.study_dir), run_fn, driver_node): spec
            for spec in todo
        }
        pending = list(refs)
        with progress.task(f"study {study.name} on Ray", total=len(todo)) as advance:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    outcome = _collect_ray(ray, ref, refs[ref], study.study_dir)
                    progress.log(outcome.progress_line(len(todo) - len(pending), len(todo)))
                    advance(1)
                    yield outcome


def _collect_ray(ray, ref, spec: RunSpec, study_dir: Path) -> RunOutcome:
    run_dir = study_dir / spec.rel_dir
    try:
        result = ray.get(ref)
    except Exception as exc:  # the worker died (OOM, node lost): the run failed, the study goes on
        write_error(run_dir, spec, f"the Ray task failed: {exc}")
        return RunOutcome(spec, run_dir, "failed", error=failure_line(exc))
    write_run_files(run_dir, result.get("files", {}))
    return RunOutcome(spec, run_dir, result["status"], metrics=result["metrics"], error=result["error"], seconds=result["seconds"])


def run_files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run directory (its kept data sources and arrays too; not the lock), by
    its path inside the directory: what a worker on another node sends back."""
    return {
        path.relative_to(run_dir).as_posix(): path.read_bytes()
        for path in sorted(run_dir.rglob("*"))
        if path.is_file() and path.name != RunDir.LOCK
    }


def write_run_files(run_dir: Path, files: dict[str, bytes]) -> None:
    """Write what :func:`run_files` read, each file atomically and the metrics file last, as a
    run writes it: a copy cut short is not taken for a finished run."""
    for name in sorted(files, key=lambda n: n == RunDir.METRICS):
        write_bytes(run_dir / name, files[name])
