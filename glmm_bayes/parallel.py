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
from concurrent.futures import ProcessPoolExecutor
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
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=get_context("spawn")) as pool:
            return list(pool.map(func, items))
    return _map_dask(func, items, n_workers, scheduler)


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
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
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
