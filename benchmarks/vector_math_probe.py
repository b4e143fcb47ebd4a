"""Probe (not used by glmm_bayes): would SIMD-friendly exp/log/log1p/softplus/sigmoid speed up the gradient?

PyTensor's numba backend lowers ``exp``/``log``/``log1p`` to scalar libm calls. LLVM vectorizes such
loops only with a vector math library wired in, and the pip llvmlite 0.50 (LLVM 22) wires none:
``llvm.set_option("", "-vector-library=LIBMVEC")`` plus loading libmvec.so.1 still emits scalar ``exp``
calls (LLVM 22 reads the vector library from the target-machine options, which llvmlite does not expose).

This script lowers the five scalar ops to plain-arithmetic implementations (range reduction, polynomial,
exponent bits; within 2 ulp of NumPy over each whole domain, edges included), marks fused Composite
bodies always-inline (otherwise LLVM does not inline them into the loop and nothing vectorizes), and times
the row-loop patterns of a logistic GLMM on 8,525 rows with PyTensor's lowering and with these.

Measured 2026-12-01 (session 14, this 2-core machine; microseconds per call):
- ``(y*eta - softplus(eta)).sum()`` on a plain vector: 369 -> 73 (5.0x);
- the same with ``eta = X @ b + u[idx]`` (random intercept): 567 -> 149 (3.8x);
- with ``eta = X @ b + (U[idx] * Z).sum(1)`` (correlated slopes, what the builder emits): 518 -> 609
  (slower: the fused loop holds a 2-D inner reduction, LLVM does not vectorize it, and the polynomial
  is slower than libm when scalar); its gradient 309 -> 316;
- the whole hospital model's logp (``(1 + IL6 | DID)``): 356-418 -> 470-489 (slower, same reason).
So the gain would need eta of a correlated block as 1-D columns (``U[idx, 0] * Z[:, 0] + U[idx, 1] * Z[:, 1]``).
Session 15 tried that in the builder: PyTensor 3.3's rewrites fuse it back into the same gather-and-reduce
loop (the compiled hospital graphs were identical, node for node), so it is not adopted.

    .venv/bin/python benchmarks/vector_math_probe.py      # accuracy table, then the timing table
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from hashlib import sha256

import numba
import numpy as np
from numba import types
from numba.extending import intrinsic

VERSION = "glmm_bayes-vector-math-probe-1"  # change whenever an implementation below changes

# Only contraction into FMA: the range reductions and the log1p correction below rely on the
# evaluation order written (PyTensor's own default flags include "reassoc", which would undo them).
_FLAGS = {"contract"}

_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # fdlibm's split of log(2): k * _LN2_HI is exact for |k| < 2**20
_LN2_LO = 1.90821492927058770002e-10
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # smallest normal double


@intrinsic
def _as_float(typingctx, bits):
    """Reinterpret an int64's bits as a float64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))
    return types.float64(types.int64), codegen


@intrinsic
def _as_int(typingctx, value):
    """Reinterpret a float64's bits as an int64."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int64))
    return types.int64(types.float64), codegen


@numba.njit(fastmath=_FLAGS, error_model="numpy", inline="always", cache=True)
def _exp(x: float) -> float:
    """e**x: x = k·log 2 + r with |r| <= log(2)/2, e**r by its degree-13 Taylor polynomial, 2**k by
    writing the exponent bits (in two halves, so subnormal and overflowing results come out right)."""
    c = min(max(x, -746.0), 710.0)  # beyond these e**x is 0 or inf; keeps k inside int64
    k = np.floor(c * _LOG2E + 0.5)
    r = (c - k * _LN2_HI) - k * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    ki = np.int64(k)
    half = ki >> 1
    value = p * _as_float((half + 1023) << 52) * _as_float((ki - half + 1023) << 52)
    return value if x == x else x  # NaN stays NaN


@numba.njit(fastmath=_FLAGS, error_model="numpy", inline="always", cache=True)
def _log(x: float) -> float:
    """log x: x = m·2**e with m in [√2/2, √2), log m = 2·atanh(s) with s = (m − 1)/(m + 1) by its
    series (|s| <= 0.1716, to s**21), plus e·log 2."""
    scaled = x < _TINY  # subnormal: scale into the normal range first
    y = x * 18014398509481984.0 if scaled else x  # 2**54
    bits = _as_int(y)
    e = ((bits >> 52) & 0x7FF) - 1023 - (54 if scaled else 0)
    m = _as_float((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > _SQRT2
    m = m * 0.5 if big else m
    e = e + 1 if big else e
    f = m - 1.0
    s = f / (m + 1.0)
    z = s * s
    q = 1.0 / 21.0
    q = q * z + 1.0 / 19.0
    q = q * z + 1.0 / 17.0
    q = q * z + 1.0 / 15.0
    q = q * z + 1.0 / 13.0
    q = q * z + 1.0 / 11.0
    q = q * z + 1.0 / 9.0
    q = q * z + 1.0 / 7.0
    q = q * z + 1.0 / 5.0
    q = q * z + 1.0 / 3.0
    # log m = 2s·(1 + z·q), and 2s = f − s·f: written as f − s·(f − 2·z·q) the leading term f is exact
    log_m = f - s * (f - 2.0 * z * q)
    ef = np.float64(e)
    value = ef * _LN2_HI + (log_m + ef * _LN2_LO)
    special = -np.inf if x == 0.0 else (x if x == np.inf else np.nan)  # 0, inf; negative or NaN
    return value if (x > 0.0) & (x < np.inf) else special


@numba.njit(fastmath=_FLAGS, error_model="numpy", inline="always", cache=True)
def _log1p(x: float) -> float:
    """log(1 + x), accurate for tiny x: log(u) − ((u − 1) − x)/u with u = 1 + x (the rounding of u
    corrected to first order)."""
    u = 1.0 + x
    log_u = _log(u)
    corrected = log_u - ((u - 1.0) - x) / u
    # |x| below half an ulp of 1: log1p(x) = x to double precision; at -1 and inf: log u itself
    value = log_u if (x == np.inf) | (x == -1.0) else corrected
    return x if u == 1.0 else value


@numba.njit(fastmath=_FLAGS, error_model="numpy", forceinline=True, cache=True)
def softplus(x: float) -> float:
    """log(1 + e**x) = max(x, 0) + log1p(e**−|x|): one exp and one log1p, no overflow."""
    value = max(x, 0.0) + _log1p(_exp(-abs(x)))
    return value if x == x else x


@numba.njit(fastmath=_FLAGS, error_model="numpy", forceinline=True, cache=True)
def sigmoid(x: float) -> float:
    """1 / (1 + e**−x)."""
    return 1.0 / (1.0 + _exp(-x))


# The public functions: the private ones above are inlined into these at numba-IR level (so their
# flags stay _FLAGS); these are not, so a caller's own flags (PyTensor's include "reassoc") cannot
# reach their instructions, and LLVM still inlines them into the caller's loop.
@numba.njit(fastmath=_FLAGS, error_model="numpy", forceinline=True, cache=True)
def exp(x: float) -> float:
    """e**x (see :func:`_exp`)."""
    return _exp(x)


@numba.njit(fastmath=_FLAGS, error_model="numpy", forceinline=True, cache=True)
def log(x: float) -> float:
    """log x (see :func:`_log`)."""
    return _log(x)


@numba.njit(fastmath=_FLAGS, error_model="numpy", forceinline=True, cache=True)
def log1p(x: float) -> float:
    """log(1 + x) (see :func:`_log1p`)."""
    return _log1p(x)


_enabled = contextvars.ContextVar("glmm_bayes_vector_math", default=False)


@contextmanager
def fast_transcendentals():
    """While active, PyTensor's numba backend lowers float64 exp, log, log1p, softplus and sigmoid to the
    functions of this module (see the module docstring)."""
    token = _enabled.set(True)
    try:
        yield
    finally:
        _enabled.reset(token)


def _register() -> None:
    """Put this module's lowerings in front of PyTensor's for the five scalar ops; each falls back to
    PyTensor's own one outside :func:`fast_transcendentals` or for other dtypes."""
    from pytensor.link.numba.dispatch import basic as numba_basic
    from pytensor.link.numba.dispatch import scalar as _scalar_lowerings  # noqa: F401  (registers PyTensor's)
    from pytensor.scalar import basic as ps
    from pytensor.scalar import math as psm

    ours = {ps.Exp: exp, ps.Log: log, ps.Log1p: log1p, psm.Softplus: softplus, psm.Sigmoid: sigmoid}
    dispatcher = numba_basic.numba_funcify_and_cache_key
    for op_type, function in ours.items():
        theirs = dispatcher.dispatch(op_type)

        def lowering(op, node=None, _theirs=theirs, _function=function, _op_type=op_type, **kwargs):
            float64 = all(v.type.dtype == "float64" for v in (*node.inputs, *node.outputs))
            if not (_enabled.get() and float64):
                return _theirs(op, node=node, **kwargs)
            key = sha256(str((_op_type.__name__, VERSION)).encode()).hexdigest()
            return _function, key

        numba_basic.register_funcify_and_cache_key(op_type)(lowering)

    # A fused loop's scalar body is a Composite; LLVM only vectorizes the loop if it inlines that body,
    # and a body holding these functions is over LLVM's inlining threshold, so mark it always-inline.
    theirs_composite = dispatcher.dispatch(ps.Composite)

    def composite_lowering(op, node=None, **kwargs):
        function, key = theirs_composite(op, node=node, **kwargs)
        if not _enabled.get() or key is None:
            return function, key
        options = {k: v for k, v in function.targetoptions.items() if k != "nopython"}
        options["forceinline"] = True
        inlined = numba.njit(**options)(function.py_func)
        return inlined, sha256(str((key, VERSION, "forceinline")).encode()).hexdigest()

    numba_basic.register_funcify_and_cache_key(ps.Composite)(composite_lowering)


_register()


def _accuracy() -> None:
    """Largest error in ulps against NumPy/SciPy over each function's domain, edge values included."""
    from scipy import special

    def loop_of(f):
        @numba.njit(fastmath={"arcp", "contract", "afn", "reassoc", "nsz"}, error_model="numpy")
        def loop(x, out):
            for i in range(x.shape[0]):
                out[i] = f(x[i])
        return loop

    rng = np.random.default_rng(0)
    edges = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e-310, -1.0, 709.78, -745.1, 1e300, -1e300]
    cases = {"exp": (exp, np.exp, rng.uniform(-750, 712, 200_000)),
             "log": (log, np.log, np.exp(rng.uniform(-745, 709, 200_000))),
             "log1p": (log1p, np.log1p, np.r_[rng.uniform(-1, 3, 100_000), np.exp(rng.uniform(-745, 709, 100_000))]),
             "softplus": (softplus, lambda v: np.logaddexp(0, v), rng.uniform(-800, 800, 200_000)),
             "sigmoid": (sigmoid, special.expit, rng.uniform(-800, 800, 200_000))}
    for name, (ours, reference, x) in cases.items():
        x = np.r_[x, edges]
        out = np.empty_like(x)
        loop_of(ours)(x, out)
        with np.errstate(all="ignore"):
            ref = reference(x)
            same = (out == ref) | (np.isnan(out) & np.isnan(ref))
            ulps = np.where(same, 0.0, np.abs(out - ref) / np.spacing(np.abs(ref)))
        print(f"{name:9s} max error {np.nanmax(ulps):.0f} ulp")


def _timings() -> None:
    import time

    import pytensor
    import pytensor.tensor as pt

    rng = np.random.default_rng(0)
    n, groups = 8525, 407
    X, U, Z = pt.dmatrix("X"), pt.dmatrix("U"), pt.dmatrix("Z")
    b, u, y, e0 = pt.dvector("b"), pt.dvector("u"), pt.dvector("y"), pt.dvector("e0")
    idx = pt.lvector("idx")
    eta_intercept = X @ b + u[idx]
    eta_slopes = X @ b + (U[idx] * Z).sum(1)

    def loglik(eta):
        return (y * eta - pt.softplus(eta)).sum()

    graphs = {"plain vector": (loglik(e0), [e0, y]),
              "random intercept": (loglik(eta_intercept), [X, b, u, idx, y]),
              "random intercept, gradient": (pt.grad(loglik(eta_intercept), [b, u]), [X, b, u, idx, y]),
              "correlated slopes": (loglik(eta_slopes), [X, b, U, Z, idx, y]),
              "correlated slopes, gradient": (pt.grad(loglik(eta_slopes), [b, U]), [X, b, U, Z, idx, y])}
    values = {X: rng.normal(size=(n, 6)), b: rng.normal(size=6) * 0.3, u: rng.normal(size=groups),
              U: rng.normal(size=(groups, 2)), Z: np.c_[np.ones(n), rng.normal(size=n)],
              idx: rng.integers(0, groups, n), y: (rng.random(n) < 0.3).astype(float), e0: rng.normal(size=n)}
    print(f"{'pattern':30s} {'PyTensor us':>12s} {'probe us':>10s} {'ratio':>6s}")
    for name, (graph, inputs) in graphs.items():
        seconds = []
        for fast in (False, True):
            token = _enabled.set(fast)
            try:
                f = pytensor.function(inputs, graph, mode="NUMBA", trust_input=True)
            finally:
                _enabled.reset(token)
            args = [values[i] for i in inputs]
            f(*args)
            start = time.perf_counter()
            for _ in range(2000):
                f(*args)
            seconds.append((time.perf_counter() - start) / 2000 * 1e6)
        print(f"{name:30s} {seconds[0]:12.1f} {seconds[1]:10.1f} {seconds[0] / seconds[1]:6.2f}")


if __name__ == "__main__":
    _accuracy()
    _timings()
