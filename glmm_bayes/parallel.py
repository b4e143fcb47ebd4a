"""Run independent jobs (k-fold folds, SBC replicates, model grids) in parallel.

Executors:

* ``"dask"`` — Dask distributed: the cluster at ``scheduler`` (or the environment
  variable ``GLMM_BAYES_DASK_SCHEDULER``), else an embedded ``LocalCluster`` of
  ``n_workers`` single-threaded worker processes;
* ``"processes"`` — a local ``ProcessPoolExecutor`` (spawned processes);
* ``"serial"`` — in this process (debugging, or when a job is tiny);
* ``"auto"`` (default) — ``"dask"`` (embedded ``LocalCluster`` unless a scheduler is
  configured) when ``distributed`` is installed, else ``"processes"``.

Jobs must be picklable top-level functions. Workers keep a cache of built and compiled
models (:func:`cached_model`), so a worker compiles a model once however many jobs it runs.

Example
-------
>>> map_jobs(abs, [-1, 2, -3], executor="serial")
[1, 2, 3]
"""

from __future__ import annotations

import hashlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any, Callable, Iterable

from glmm_bayes.errors import GLMMInputError

SCHEDULER_ENV = "GLMM_BAYES_DASK_SCHEDULER"
EXECUTORS = ("auto", "dask", "processes", "serial")
_MODEL_CACHE: dict[str, Any] = {}


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def map_jobs(func: Callable, items: Iterable, executor: str = "auto", n_workers: int | None = None,
             scheduler: str | None = None) -> list:
    """``[func(item) for item in items]``, run on the chosen executor, results in input order."""
    items = list(items)
    if executor not in EXECUTORS:
        raise GLMMInputError(f"executor must be one of {', '.join(EXECUTORS)}, got {executor!r}")
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if executor == "auto":
        executor = "dask" if (scheduler or _has_distributed()) else "processes"
    n_workers = n_workers or min(default_workers(), max(1, len(items)))
    if executor == "serial" or not items:
        return [func(item) for item in items]
    if executor == "processes":
        try:
            with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn")) as pool:
                return list(pool.map(func, items))
        except BrokenProcessPool as err:
            raise GLMMInputError(_workers_failed("processes", "the process pool's workers")) from err
    return _map_dask(func, items, n_workers, scheduler)


def _workers_failed(executor: str, what: str) -> str:
    """The message for worker processes that did not start, with the usual cause where it applies: a script
    without a ``__main__`` guard (spawned workers import the script and run its top level again)."""
    message = f"executor={executor!r}: {what} failed to start or died."
    main = sys.modules.get("__main__")
    if getattr(main, "__file__", None) and not hasattr(sys, "ps1"):  # run as a script, not interactively
        message += (f" Run from a script ({os.path.basename(main.__file__)}), the usual cause is that its code is not "
                    "under 'if __name__ == \"__main__\":': each worker process imports the script and runs its top "
                    "level again (Python's multiprocessing docs, 'Safe importing of main module'). Put the "
                    "script's code under that guard,")
    else:
        message += " See the error above this one;"
    return message + " or pass executor=\"serial\" to run the jobs in this process."


def in_worker_process() -> bool:
    """Whether this process was started by another Python process through ``multiprocessing`` (a process-pool
    or Dask worker): there each job gets one core, as the pool runs one job per core."""
    import multiprocessing

    return multiprocessing.parent_process() is not None


def _has_distributed() -> bool:
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _map_dask(func: Callable, items: list, n_workers: int, scheduler: str | None) -> list:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise GLMMInputError("executor='dask' needs the 'distributed' package (pip install 'dask[distributed]')") \
            from None
    if scheduler:
        with Client(scheduler) as client:
            return client.gather(client.map(func, items, pure=False))
    try:
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
    except RuntimeError as err:  # distributed: "Nanny failed to start."
        raise GLMMInputError(_workers_failed("dask", "the embedded LocalCluster's workers")) from err
    with cluster, Client(cluster) as client:
        return client.gather(client.map(func, items, pure=False))


def model_key(spec_toml: str, data_bytes: bytes) -> str:
    return hashlib.sha256(spec_toml.encode() + data_bytes).hexdigest()


def register_model(spec_toml: str, data, model) -> None:
    """Put an already built (and possibly compiled) model into this process's cache."""
    _MODEL_CACHE.setdefault(model_key(spec_toml, data.to_csv(index=False).encode()), model)


def cached_model(spec_toml: str, data):
    """The GLMM for (spec, data) in this worker process, built (and later compiled) once."""
    from glmm_bayes.glmm import GLMM
    from glmm_bayes.spec import ModelSpec

    key = model_key(spec_toml, data.to_csv(index=False).encode())
    if key not in _MODEL_CACHE:
        spec = ModelSpec.from_toml_string(spec_toml)
        spec.na_action = "error"
        _MODEL_CACHE[key] = GLMM.from_spec(spec, data)
    return _MODEL_CACHE[key]
