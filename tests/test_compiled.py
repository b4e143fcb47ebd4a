"""The disk-cached nutpie compilation (glmm_bayes.compiled) against nutpie's own."""

import ctypes
from pathlib import Path

import numpy as np
import nutpie
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.compiled import compile_model


@pytest.fixture(scope="module")
def glmm():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(12), 6)
    x = rng.normal(size=g.size)
    y = 0.5 + 0.8 * x + rng.normal(0, 0.7, 12)[g] + rng.normal(0, 0.5, g.size)
    return gb.GLMM("y ~ x + (1 + x | g)", pd.DataFrame({"y": y, "x": x, "g": g.astype(str)}))


@pytest.fixture(scope="module")
def ours(glmm):
    return compile_model(glmm.sampling_model)


@pytest.fixture(scope="module")
def theirs(glmm):
    """nutpie's own compilation, reached through compile_model's fallback (a graph without a PyTensor cache key)."""
    import glmm_bayes.compiled as compiled

    def no_key(*args, **kwargs):
        raise compiled.NotCacheable("the log density has no PyTensor cache key")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(compiled, "_cfunc_source", no_key)
        return compile_model(glmm.sampling_model)


def _draws(compiled, seed=11):
    trace = nutpie.sample(compiled, draws=60, tune=60, chains=2, seed=seed, progress_bar=False)
    return np.concatenate([trace.posterior[v].values.reshape(2, 60, -1) for v in sorted(trace.posterior.data_vars)],
                          axis=-1)


def _call(compiled, point):
    """(status, log density, gradient, expanded draw) from the compiled C callbacks, as nutpie's sampler calls them."""
    logp_fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, *[ctypes.c_void_p] * 4)(compiled.compiled_logp_func.address)
    expand_fn = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint64, *[ctypes.c_void_p] * 3)(
        compiled.compiled_expand_func.address)
    x, grad, logp, expanded = point.copy(), np.zeros(compiled.n_dim), np.zeros(()), np.zeros(compiled.n_expanded)
    status = logp_fn(compiled.n_dim, x.ctypes.data, grad.ctypes.data, logp.ctypes.data, compiled.user_data.ctypes.data)
    status += expand_fn(compiled.n_dim, compiled.n_expanded, x.ctypes.data, expanded.ctypes.data,
                        compiled.user_data.ctypes.data)
    return status, float(logp), grad, expanded


def _assert_same_functions(ours, theirs, points=5):
    assert ours.n_dim == theirs.n_dim and ours.n_expanded == theirs.n_expanded
    for point in np.random.default_rng(2).normal(size=(points, ours.n_dim)):
        (s1, lp1, g1, e1), (s2, lp2, g2, e2) = _call(ours, point), _call(theirs, point)
        assert s1 == s2 == 0
        np.testing.assert_allclose([lp1, *g1, *e1], [lp2, *g2, *e2], rtol=1e-10, atol=1e-12)


def test_same_functions_as_nutpies_own_compilation(ours, theirs):
    """Log density, gradient and expanded draws agree to rounding (the machine code may differ in its last bit:
    PyTensor compiles with fast-math, so the two samplers' trajectories need not agree draw for draw)."""
    assert ours.compiled_logp_func.__wrapped__.__name__ == "logp_cfunc"  # not the fallback
    assert ours.compiled_expand_func.__wrapped__.__name__ == "expand_cfunc"
    _assert_same_functions(ours, theirs)


def test_with_data_swaps_the_data(glmm, ours, theirs):
    """k-fold / SBC refits swap data through nutpie's record; the cached wrappers read it on every call."""
    arrays = glmm.sampling_arrays(np.arange(0, glmm.design.n, 2))
    known = {v.name for v in ours.shared_var_keys}
    subset = ours.with_data(**{k: v for k, v in arrays.items() if k in known})
    _assert_same_functions(subset, theirs.with_data(**{k: v for k, v in arrays.items() if k in known}))
    point = np.zeros(ours.n_dim)
    assert _call(subset, point)[1] != _call(ours, point)[1]  # the data did change


def test_second_compilation_loads_the_machine_code_from_disk(glmm, ours):
    # PyMC/PyTensor build a slightly different graph (91 against 93 nodes here) the first time in a process,
    # so the first two compilations in a process can have different keys: the third always finds its entry
    compile_model(glmm.sampling_model)
    again = compile_model(glmm.sampling_model)
    assert again.compiled_logp_func.cache_hits == 1
    assert again.compiled_expand_func.cache_hits == 1
    _assert_same_functions(again, ours)


def test_other_model_gets_its_own_entry():
    """Same data layout, another graph (a different prior): no stale machine code is reused."""
    df = pd.DataFrame({"y": [0.1, 1.3, 2.2, 2.9, 4.4, 5.1], "g": list("aabbcc")})
    a = compile_model(gb.GLMM("y ~ 1 + (1 | g)", df).sampling_model)
    b = compile_model(gb.GLMM("y ~ 1 + (1 | g)", df, priors={"sigma": "HalfNormal(0.3)"}).sampling_model)
    assert not np.array_equal(_draws(a), _draws(b))


def test_falls_back_to_nutpies_own_compilation(theirs):
    assert theirs.compiled_logp_func.__wrapped__.__qualname__.startswith("_make_c_logp_func")
    assert theirs.compiled_logp_func.cache_hits == 0


def test_numpyro_fits_use_the_jax_persistent_cache():
    import jax

    df = pd.DataFrame({"y": [0.1, 1.3, 2.2, 2.9, 4.4, 5.1, 3.3, 0.7], "g": list("aabbccdd")})
    gb.GLMM("y ~ 1 + (1 | g)", df).fit(draws=50, tune=50, chains=1, seed=1, backend="numpyro", progressbar=False,
                                      warn=False)
    cache = jax.config.jax_compilation_cache_dir
    assert cache is not None
    assert any(Path(cache).iterdir())  # the jitted sampler was written there


FIT_SCRIPT = """
import hashlib, sys, warnings
import numpy as np, pandas as pd
import glmm_bayes as gb
warnings.simplefilter("ignore")
rng = np.random.default_rng(3)
df = pd.DataFrame({"x": rng.normal(size=200)})
df["y"] = 0.5 + 0.8 * df["x"] + rng.normal(size=200)
fit = gb.GLMM("y ~ x", df).fit(draws=40, tune=40, chains=1, seed=5, progressbar=False, warn=False)
print("DRAWS", hashlib.sha256(fit.posterior["b"].values.tobytes()).hexdigest())
"""


@pytest.mark.slow
def test_first_fit_on_an_empty_cache_draws_what_later_fits_draw(tmp_path):
    """Same seed, same draws, also the very first time a model is compiled on a machine: freshly JIT-compiled
    machine code can differ in its last bit from the same code loaded from numba's cache (it did for this model:
    the two runs' draws differed before compile_model compiled missing code in a child process)."""
    import os
    import subprocess
    import sys

    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS"), f"base_compiledir={tmp_path}"]))
    hashes = []
    for _ in range(2):  # the first run compiles everything into the empty cache, the second loads it
        proc = subprocess.run([sys.executable, "-c", FIT_SCRIPT], capture_output=True, text=True, env=env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        hashes.append(next(line for line in proc.stdout.splitlines() if line.startswith("DRAWS")))
    assert any((tmp_path / "numba").iterdir())  # the runs did use the empty cache
    assert hashes[0] == hashes[1]


def test_a_child_that_hangs_is_killed_and_one_that_exits_is_reaped():
    """The compile child is waited for with a deadline (a forked child once hung in a destructor of the
    parent's garbage); past it the child is killed and the parent compiles the code itself."""
    import os
    import time

    from glmm_bayes.compiled import _wait_or_kill

    pid = os.fork()
    if pid == 0:
        os._exit(0)
    assert _wait_or_kill(pid, timeout=30)
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    start = time.monotonic()
    assert not _wait_or_kill(pid, timeout=0.5)
    assert time.monotonic() - start < 10
    with pytest.raises(ChildProcessError):  # killed and reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)
