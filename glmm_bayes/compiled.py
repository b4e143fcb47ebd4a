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

Example
-------
>>> # compiled = compile_model(glmm.sampling_model)   # first time: compiles and stores; later: loads
>>> # nutpie.sample(compiled, draws=1000)
"""

from __future__ import annotations

import hashlib
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
    logp_cfunc = _cached_cfunc(_LOGP_TEMPLATE, "logp_cfunc", logp_fn_pt.vm.jit_fn, logp_keys, layout,
                               {"N_DIM": n_dim}, _logp_signature())
    expand_cfunc = _cached_cfunc(_EXPAND_TEMPLATE, "expand_cfunc", expand_fn_pt.vm.jit_fn, expand_keys, layout,
                                 {"N_DIM": n_dim, "N_EXPANDED": n_expanded}, _expand_signature())
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


def _cached_cfunc(template: str, name: str, inner, keys: list[str], layout: dict, constants: dict, signature):
    """A numba C callback from ``template`` calling ``inner`` (a PyTensor numba function) on the data arrays
    ``keys``, cached under a key built from ``inner``'s own PyTensor cache key and everything the template
    bakes in (constants, layout, dtypes)."""
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
    py_func = compile_numba_function_src(src, name, global_env=env, cache_key=cache_key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", numba.NumbaWarning)
        try:
            return numba.cfunc(signature, cache=True)(py_func)
        except Exception as err:  # e.g. a cache entry written by another numba: nutpie's own way still works
            raise NotCacheable(f"cached wrapper failed: {err}") from err


def _logp_signature():
    from numba import types

    return types.int64(types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.CPointer(types.double), types.voidptr)


def _expand_signature():
    from numba import types

    return types.int64(types.uint64, types.uint64, types.CPointer(types.double), types.CPointer(types.double),
                       types.voidptr)
