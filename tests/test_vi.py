"""method="vi": PyMC ADVI with the Pareto k of its importance ratios as the honest diagnostic.

On a model whose posterior is close to Gaussian (a linear regression with plenty of data) the
approximation must be good (k < 0.7, means and sds as NUTS's); on a hierarchical model with few rows
per group (a funnel-shaped posterior) mean-field ADVI must be flagged (k > 0.7, a warning).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.inference import ConvergenceWarning


def test_vi_on_a_near_gaussian_posterior_agrees_with_nuts():
    rng = np.random.default_rng(0)
    x = rng.normal(size=400)
    df = pd.DataFrame({"y": 1.0 + 0.5 * x + rng.normal(0, 0.7, 400), "x": x})
    model = gb.GLMM("y ~ x", df)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # a good approximation: no warning
        vi = model.fit(method="vi", vi_steps=8000, draws=2000, seed=1, progressbar=False)
    nuts = model.fit(draws=1000, tune=500, chains=2, seed=1, progressbar=False, warn=False)
    assert vi.diagnostics.vi_pareto_k < 0.7 and vi.backend == "vi (advi)"
    a, b = vi.summary(), nuts.summary()
    # stochastic optimisation leaves the means jittering by a fraction of a posterior sd (0.6 sd measured)
    assert ((a["mean"] - b["mean"]).abs() < 0.75 * b["sd"] + 4 * b["mcse_mean"]).all(), (a, b)
    np.testing.assert_allclose(a["sd"], b["sd"], rtol=0.3)
    assert vi.idata["log_likelihood"]["y"].shape == (1, 2000, 400)  # per row: loo, compare work
    assert np.isfinite(float(vi.loo().elpd))


def test_vi_on_a_funnel_is_flagged():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(30), 3)
    df = pd.DataFrame({"y": rng.normal(0, 1, 90) + rng.normal(0, 0.3, 30)[g], "g": g})
    with pytest.warns(ConvergenceWarning, match="Pareto k"):
        fit = gb.GLMM("y ~ 1 + (1 | g)", df).fit(method="vi", vi_steps=3000, draws=1000, seed=2, progressbar=False)
    assert not fit.diagnostics.vi_pareto_k <= 0.7 and not fit.diagnostics.ok  # (NaN also fails)


def test_vi_bad_settings():
    df = pd.DataFrame({"y": [1.0, 2.0, 3.5, 4.0], "x": [0.0, 1.0, 2.0, 3.0]})
    with pytest.raises(GLMMInputError, match="method must be 'nuts' or 'vi'"):
        gb.GLMM("y ~ x", df).fit(method="advi")
    with pytest.raises(GLMMInputError, match="vi method must be one of advi, fullrank_advi"):
        gb.GLMM("y ~ x", df).fit(method="vi", vi_method="svgd")
