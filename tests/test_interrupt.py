"""Ctrl-C during sampling keeps the draws made so far (glmm_bayes/inference.py, ``keep_partial``).

A child process fits a small model with far more draws than it can make, the test
sends it SIGINT once sampling runs, and the child must come back with a fit that
holds the draws so far, is marked ``interrupted``, says so, and saves a valid file.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import glmm_bayes as gb

TESTS = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent("""
    import signal, sys, warnings
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if the parent ignores SIGINT
    sys.path.insert(0, {tests!r})
    import glmm_bayes as gb
    from bad_input_catalogue import make_data

    backend, out = sys.argv[1], sys.argv[2]
    model = gb.GLMM("y ~ x + (1 | g)", make_data())
    if backend == "nutpie":  # compile once (cached on the model), so the next fit starts sampling at once
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(draws=10, tune=10, chains=1, seed=0, progressbar=False, warn=False, backend=backend)
    print("READY", flush=True)
    fit = model.fit(draws=1_000_000, tune=200, chains=2, seed=1, progressbar=False, warn=False, backend=backend)
    print("KEPT", fit.posterior.sizes["chain"], fit.posterior.sizes["draw"], flush=True)
    print("INTERRUPTED", fit.idata.attrs.get("interrupted"), flush=True)
    fit.save(out)
    print("SAVED", flush=True)
""")


# the line after which the child is sampling (nutpie: compiled, sampling starts at once; PyMC: its log line
# naming the sampled variables, printed once the step method is built) and how long to let it sample then.
# PyMC's main process then still starts its workers and loads its numba trace function; a SIGINT landing in
# that load is a SystemError, not a KeyboardInterrupt (2 of 9 runs with 3 s on a loaded 2-core
# machine), so PyMC gets 6 s
STARTED = {"nutpie": ("READY", 1.5), "pymc": ("NUTS: [", 6.0)}


def run_and_interrupt(backend: str, out: Path, limit: float = 50.0) -> str:
    """Start the child, wait until it samples, let it run a moment, send SIGINT; return its output."""
    script = out.parent / "child.py"
    script.write_text(SCRIPT.format(tests=str(TESTS)))
    proc = subprocess.Popen([sys.executable, str(script), backend, str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=out.parent)
    marker, wait = STARTED[backend]
    deadline = time.monotonic() + limit
    lines = []
    try:
        for line in proc.stdout:  # the child always prints the marker or ends with an error
            lines.append(line)
            if line.startswith(marker) or time.monotonic() > deadline:
                break
        assert lines and lines[-1].startswith(marker), f"child did not start sampling:\n{''.join(lines)}"
        time.sleep(wait)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=max(5.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = "".join(lines) + rest
    assert proc.returncode == 0, f"child exited with {proc.returncode}:\n{output[-3000:]}"
    return output


@pytest.mark.parametrize("backend", ["nutpie", "pymc"])
def test_ctrl_c_keeps_the_draws_so_far(backend, tmp_path):
    out = tmp_path / "partial.nc"
    output = run_and_interrupt(backend, out)
    kept = dict((line.split()[0], line.split()[1:]) for line in output.splitlines() if line.strip())
    chains, draws = map(int, kept["KEPT"])
    assert 1 <= chains <= 2 and 0 < draws < 1_000_000, output
    assert kept["INTERRUPTED"] == ["1"], output
    assert "SAVED" in kept, output
    assert f"sampling interrupted after {draws} draws per chain" in output, output
    assert "diagnostics are unreliable" in output
    assert "Traceback" not in output, output

    fit = gb.load(out)  # a valid file: loads, summarises, draws are finite and of one length
    assert int(fit.idata.attrs["interrupted"]) == 1
    assert fit.posterior.sizes["draw"] == draws and fit.posterior.sizes["chain"] == chains
    assert np.isfinite(fit.summary()["mean"]).all()
    # draws=1_000_000 asked for more than LOGLIK_STORE_MAX values, so the fit left the log-likelihood out
    assert "log_likelihood" not in fit.idata.children
    ll = fit.ensure_log_likelihood()["log_likelihood"]["y"]  # computed for the draws kept
    assert ll.sizes["draw"] == draws and np.isfinite(ll.values).all()
    assert "interrupted" in str(fit.diagnostics)


def partial_tree(lengths: list[int], n_draw: int = 10):
    """A nutpie-like partial trace: chain c has lengths[c] draws, the rest NaN."""
    import xarray as xr

    values = np.full((len(lengths), n_draw, 2), np.nan)
    for c, n in enumerate(lengths):
        values[c, :n] = c + np.arange(n)[:, None]
    posterior = xr.Dataset({"b": (("chain", "draw", "b_coef"), values),
                            "sigma": (("chain", "draw"), values[..., 0])})
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((len(lengths), n_draw), bool))})
    return xr.DataTree.from_dict({"posterior": posterior, "sample_stats": stats})


@pytest.mark.parametrize("lengths, chains, draws", [
    ([10, 4, 7], [0, 2], 7),   # 2 x 7 = 14 beats 1 x 10 and 3 x 4
    ([6, 3], [0, 1], 3),       # a tie (6 = 2 x 3) keeps more chains
    ([0, 5, 5, 5], [1, 2, 3], 5),
])
def test_keep_partial_trims_chains_to_one_length(lengths, chains, draws):
    from glmm_bayes.inference import SamplingInterrupted, keep_partial

    with pytest.warns(SamplingInterrupted, match=f"after {draws} draws per chain"):
        tree = keep_partial(partial_tree(lengths))
    post = tree["posterior"].to_dataset()
    assert post.sizes["chain"] == len(chains) and post.sizes["draw"] == draws
    assert tree["sample_stats"].to_dataset().sizes["draw"] == draws
    assert list(post["chain"].values) == list(range(len(chains)))
    assert not np.isnan(post["b"].values).any()
    np.testing.assert_array_equal(post["sigma"].values[:, 0], chains)  # the kept chains, in order
    assert tree.attrs["interrupted"] == 1 and tree.attrs["interrupted_draws"] == draws


def test_keep_partial_with_no_draws_reraises_keyboard_interrupt():
    from glmm_bayes.inference import keep_partial

    with pytest.raises(KeyboardInterrupt):
        keep_partial(partial_tree([0, 0]))
