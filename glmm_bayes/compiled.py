"""Compile a PyMC model for nutpie, with the compiled functions cached on disk across processes.

``nutpie.compile_pymc_model(model, backend="numba")`` compiles the model's log density and gradient
with PyTensor's numba backend (cached on disk by PyTensor), then wraps it in two numba C callbacks that
read the data from nutpie's ``user_data`` record. Those wrappers use dynamic globals, so numba compiles
them afresh in every process, and because they call the log density they re-optimise and re-generate its
whole machine code too: 15–18 s of every fit of the hospital model (8,525 rows), the same on the
hundredth fit as on the first.

:func:`compile_model` builds the same :class:`nutpie.compile_pymc.CompiledPyMCModel` with wrappers that
have no dynamic globals (the data layout is read from the record at run time) and copy the gradient in a plain
loop (``out[...] = grad`` costs 2 s of numba compiling its error messages), registered under a key
made of PyTensor's own cache keys of the two functions and the data layout, so numba stores them in
PyTensor's numba cache directory and a later process loads the machine code instead of compiling it.
``with_data`` (k-fold, SBC) works unchanged: it rewrites the record, which the wrappers read per call.
Where a graph has no PyTensor cache key, or nutpie's internals are not the ones this was written for,
it falls back to ``nutpie.compile_pymc_model``.

Machine code that is not on disk yet is compiled in a forked child process (Linux; garbage collection off
there, and killed after ``CHILD_TIMEOUT_S``, when this process compiles it itself), and this process
then loads it like any later one. Freshly JIT-compiled code and the same code loaded from numba's cache
can differ in the last bit (measured: the row-level fused loop of ``y ~ x``; PyTensor compiles with
fast-math), so without this the first fit of a model on a machine drew other draws from the same seed
than every later fit.

Example
-------
>>> # compiled = compile_model(glmm.sampling_model)   # first time: compiles and stores; later: loads
>>> # nutpie.sample(compiled, draws=1000)
"""

from __future__ import annotations

import gc
import hashlib
import os
import signal
import sys
import time
import warnings

import numpy as np

WRAPPER_VERSION = "glmm_bayes-nutpie-cfunc-3"  # change whenever the templates below change

_LOGP_TEMPLATE = """
def logp_cfunc(dim, x_, out_, logp_, user_data_):
    if dim != N_DIM:
        return -1
    try:
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_DIM,))
        logp = numba.carray(logp_, ())
        meta = numba.carray(user_data_, (META_LEN,), np.uint64)
{arrays}
        logp_val, grad = inner(x{args})
        logp[()] = logp_val
        finite = True
        for i in range(N_DIM):
            out[i] = grad[i]
            finite = finite and np.isfinite(grad[i])
        if not finite:
            return 3
        if not np.isfinite(logp_val):
            return 4
    except Exception:
        return 1
    return 0
"""

_EXPAND_TEMPLATE = """
def expand_cfunc(dim, expanded, x_, out_, user_data_):
    if dim != N_DIM:
        return -1
    if expanded != N_EXPANDED:
        return -1
    try:
        x = numba.carray(x_, (N_DIM,))
        out = numba.carray(out_, (N_EXPANDED,))
        meta = numba.carray(user_data_, (META_LEN,), np.uint64)
{arrays}
        (values,) = inner(x{args})
        for i in range(N_EXPANDED):
            out[i] = values[i]
    except Exception:
        return -2
    return 0
"""


class NotCacheable(Exception):
    """The model cannot use the cached wrappers; :func:`compile_model` falls back to nutpie's own."""


def compile_model(model):
    """``nutpie.compile_pymc_model(model, backend="numba")``, with its C callbacks cached on disk.

    The same log density, gradient and draws as nutpie's own wrappers (to the last bit or two: PyTensor compiles
    with fast-math); only where the machine code comes from differs. The same seed repeats the same draws.
    """
    import nutpie

    try:
        return _compile_cached(model)
    except NotCacheable:
        return nutpie.compile_pymc_model(model, backend="numba")


def _compile_cached(model):
    try:
        from nutpie import compile_pymc as cp
        from pymc.initial_point import make_initial_point_fn
    except ImportError as err:  # pragma: no cover - pinned versions have them
        raise NotCacheable(str(err)) from err
    needed = ("_make_functions", "make_user_data", "_prepare_dims_and_coords", "_wrap_with_lock", "CompiledPyMCModel")
    if not all(hasattr(cp, name) for name in needed):
        raise NotCacheable("nutpie's internals changed")

    # as nutpie.compile_pymc_model does for backend="numba" with its defaults
    initial_point_fn = cp._wrap_with_lock(make_initial_point_fn(
        model=model, overrides=None, default_strategy="support_point", jitter_rvs=set(model.free_RVs),
        return_transformed=True))
    n_dim, n_expanded, logp_fn_pt, expand_fn_pt, initial_point_fn, shape_info, reparameterized_names = \
        cp._make_functions(model, mode="NUMBA", compute_grad=True, join_expanded=True,
                           pymc_initial_point_fn=initial_point_fn, var_names=None)

    shared_data, shared_var_keys = {}, {}
    for var in [*logp_fn_pt.get_shared(), *expand_fn_pt.get_shared()]:
        if var in shared_var_keys:
            continue
        key = f"shared{len(shared_var_keys)}"
        shared_data[key] = np.array(var.get_value(), order="C", copy=True)
        shared_data[key].flags.writeable = False
        shared_var_keys[var] = key
    user_data = cp.make_user_data(shared_var_keys, shared_data)
    layout = _record_layout(user_data.dtype, shared_var_keys, shared_data)

    logp_keys = [shared_var_keys[var] for var in logp_fn_pt.get_shared()]
    expand_keys = [shared_var_keys[var] for var in expand_fn_pt.get_shared()]
    logp_src = _cfunc_source(_LOGP_TEMPLATE, "logp_cfunc", logp_fn_pt.vm.jit_fn, logp_keys, layout, {"N_DIM": n_dim})
    expand_src = _cfunc_source(_EXPAND_TEMPLATE, "expand_cfunc", expand_fn_pt.vm.jit_fn, expand_keys, layout,
                               {"N_DIM": n_dim, "N_EXPANDED": n_expanded})
    logp_cfunc, expand_cfunc = _cached_cfuncs([(logp_src, _logp_signature()), (expand_src, _expand_signature())])
    dims, coords = cp._prepare_dims_and_coords(model, shape_info, reparameterized_names)
    return cp.CompiledPyMCModel(
        _n_dim=n_dim, dims=dims, _coords=coords,
        _shapes={name: tuple(shape) for name, _, shape in zip(*shape_info)},
        compiled_logp_func=logp_cfunc, compiled_expand_func=expand_cfunc, initial_point_func=initial_point_fn,
        shared_data=shared_data, shared_var_keys=shared_var_keys, user_data=user_data, n_expanded=n_expanded,
        shape_info=shape_info, logp_func=logp_fn_pt, expand_func=expand_fn_pt,
        reparameterized_names=reparameterized_names)


def _record_layout(record_dtype, shared_var_keys: dict, shared_data: dict) -> dict:
    """Where each data array's pointer and shape sit in nutpie's ``user_data`` record, in 8-byte words:
    ``{key: (pointer word, (shape words...), dtype)}`` and ``"__len__"``: the record's length in words."""
    shared = record_dtype.fields["shared"]
    base, sub = shared[1], shared[0]
    layout = {"__len__": record_dtype.itemsize // 8}
    if record_dtype.itemsize % 8:
        raise NotCacheable("user_data record is not made of 8-byte words")
    for var, key in shared_var_keys.items():
        data_dtype, data_offset = sub.fields["data"][0].fields[key][:2]
        shape_dtype, shape_offset = sub.fields["shape"][0].fields[key][:2]
        words = [base + sub.fields["data"][1] + data_offset, base + sub.fields["shape"][1] + shape_offset]
        if data_dtype.itemsize != 8 or shape_dtype.base.itemsize != 8 or any(w % 8 for w in words):
            raise NotCacheable("user_data fields are not 8-byte words")
        ndim = shared_data[key].ndim
        layout[key] = (words[0] // 8, tuple(words[1] // 8 + i for i in range(ndim)), shared_data[key].dtype)
    return layout


def _cfunc_source(template: str, name: str, inner, keys: list[str], layout: dict, constants: dict):
    """The Python function of a numba C callback from ``template`` calling ``inner`` (a PyTensor numba function)
    on the data arrays ``keys``, registered for numba's disk cache under a key built from ``inner``'s own
    PyTensor cache key and everything the template bakes in (constants, layout, dtypes)."""
    import numba
    from nutpie.compile_pymc import address_as_void_pointer
    from pytensor import config
    from pytensor.link.numba.cache import CACHED_SRC_FUNCTIONS, compile_numba_function_src

    if not config.numba__cache:
        raise NotCacheable("PyTensor's numba cache is off (config.numba__cache)")
    inner_key = CACHED_SRC_FUNCTIONS.get(getattr(inner, "py_func", None))
    if inner_key is None:
        raise NotCacheable("the log density has no PyTensor cache key")
    env = {"__name__": __name__, "numba": numba, "np": np, "inner": inner, "as_voidptr": address_as_void_pointer,
           "META_LEN": layout["__len__"], **constants}
    lines, args = [], ""
    for i, key in enumerate(keys):
        pointer, shape_words, dtype = layout[key]
        env[f"DT{i}"] = np.dtype(dtype)
        shape = "".join(f"int(meta[{w}]), " for w in shape_words)
        lines.append(f"        a{i} = numba.carray(as_voidptr(meta[{pointer}]), ({shape}), DT{i})")
        args += f", a{i}"
    src = template.format(arrays="\n".join(lines), args=args)
    baked = [(layout[k][0], layout[k][1], str(layout[k][2])) for k in keys]
    cache_key = hashlib.sha256(repr((WRAPPER_VERSION, inner_key, src, sorted(constants.items()),
                                     layout["__len__"], baked)).encode()).hexdigest()
    return compile_numba_function_src(src, name, global_env=env, cache_key=cache_key)


def _cached_cfuncs(functions: list) -> list:
    """numba C callbacks of ``functions`` ((Python function, signature) pairs), loaded from numba's disk cache;
    those not there yet are compiled into it by a child process first (:func:`_compile_in_child`)."""
    import numba

    missing = [(py_func, sig) for py_func, sig in functions if not _on_disk(py_func, sig)]
    if missing:
        _compile_in_child(missing)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        try:
            return [numba.cfunc(sig, cache=True)(py_func) for py_func, sig in functions]
        except Exception as err:  # e.g. a cache entry written by another numba: nutpie's own way still works
            raise NotCacheable(f"cached wrapper failed: {err}") from err


def _on_disk(py_func, sig) -> bool:
    """Whether numba's disk cache holds machine code of ``py_func`` for ``sig`` on this CPU (True where numba's
    cache internals are not the ones this was written for: then nothing is compiled in a child)."""
    try:
        from numba.core import sigutils
        from numba.core.caching import FunctionCache
        from numba.core.registry import cpu_target
        from numba.core.typing import signature

        args, return_type = sigutils.normalize_signature(sig)
        cache = FunctionCache(py_func)
        key = cache._index_key(signature(return_type, *args), cpu_target.target_context.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - numba internals changed
        return True


def _compile_in_child(functions: list) -> None:
    """Compile ``functions`` into numba's disk cache in a forked child process and wait for it (Linux only;
    elsewhere, or if the child fails, the caller compiles them itself).

    This process then loads the machine code from the cache as a later process would, so the first fit of a
    model on a machine draws the same draws from a seed as every later one (see the module docstring).
    A fork shares the model's memory, so nothing is rebuilt; numba's compiler lock is held across the fork so
    that no other thread of this process is half-way through a compilation the child would inherit.
    """
    if sys.platform != "linux" or not hasattr(os, "fork"):
        return
    import numba
    from numba.core.compiler_lock import global_compiler_lock

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Python 3.12's warning on forking a process with threads (and JAX's)
        with global_compiler_lock:
            pid = os.fork()
            if pid == 0:  # the child: compile, store, exit without running any of the parent's exit handlers
                # no garbage collection: it would free the parent's unreachable objects here, and a nutpie object
                # among them waited in its destructor for threads the child does not have (a hang, seen once)
                gc.disable()
                status = 1
                try:  # silent: the parent's streams may be a notebook kernel's, served by threads the child lacks
                    sys.stdout = sys.stderr = open(os.devnull, "w")
                    warnings.simplefilter("ignore", numba.NumbaWarning)
                    for py_func, sig in functions:
                        numba.cfunc(sig, cache=True)(py_func)
                    status = 0
                finally:
                    os._exit(status)
    try:
        _wait_or_kill(pid, CHILD_TIMEOUT_S)
    except BaseException:  # Ctrl-C while waiting: stop the child too
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise


CHILD_TIMEOUT_S = 900  # a cold compile takes seconds to about a minute; past this the child is taken to hang


def _wait_or_kill(pid: int, timeout: float, poll: float = 0.05) -> bool:
    """Wait for child ``pid``; kill it once ``timeout`` seconds have passed (then the caller compiles in this
    process, as where there is no fork). Returns whether the child exited by itself."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return True
        time.sleep(poll)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return False


def _logp_signature():
    from numba import types

    return types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.CPointer(types.double), types.voidptr)


def _expand_signature():
    from numba import types

    return types.int64(types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.voidptr)
