"""Numerical robustness: separation, single-observation groups, all-zero groups, mixed predictor scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb

SAMPLE = dict(draws=300, tune=400, chains=2, progressbar=False, warn=False)


def test_perfect_separation_warns_and_stays_finite():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(10), 8)
    treated = (rng.random(g.size) < 0.3).astype(int)
    y = np.where(treated == 1, 1, rng.binomial(1, 0.3, g.size))  # every treated row has y = 1
    df = pd.DataFrame({"y": y, "treated": treated, "g": g})
    with pytest.warns(UserWarning, match="separates the outcome"):
        model = gb.GLMM("y ~ treated + (1 | g)", df, family="bernoulli")
    fit = model.fit(seed=1, **SAMPLE)
    s = fit.summary()
    assert np.isfinite(s.to_numpy()).all()
    # positive and large, but bounded by the prior (prior sd for b_treated is about 5.5)
    assert 1 < s.loc["b_treated", "mean"] < 3 * model.prior_set.fixed["treated"].args[1]


def test_single_observation_groups_and_all_zero_count_groups():
    rng = np.random.default_rng(2)
    g = np.r_[np.repeat(np.arange(10), 6), np.arange(10, 20)]  # 10 groups with one row each
    x = rng.normal(size=g.size)
    y = rng.poisson(np.exp(0.5 + 0.3 * x))
    y[g == 0] = 0  # an all-zero group
    fit = gb.GLMM("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}), family="poisson").fit(seed=2, **SAMPLE)
    r = fit.ranef()
    assert len(r) == 20 and np.isfinite(r[["mean", "sd"]].to_numpy()).all()
    assert r.loc[r["level"] == "0", "mean"].item() < 0  # the all-zero group is pulled down, not to -inf
    assert fit.diagnostics.divergences < 0.02 * 600


def test_predictors_on_very_different_scales():
    """Default priors adapt to the scale of each column: recovery does not depend on units."""
    rng = np.random.default_rng(3)
    g = np.repeat(np.arange(12), 10)
    income = rng.normal(50_000, 15_000, g.size)
    rate = rng.normal(0.001, 0.0003, g.size)
    y = 1 + 2e-5 * income - 800 * rate + rng.normal(0, 0.5, 12)[g] + rng.normal(0, 0.5, g.size)
    fit = gb.GLMM("y ~ income + rate + (1 | g)", pd.DataFrame({"y": y, "income": income, "rate": rate, "g": g})
                  ).fit(seed=3, **SAMPLE)
    s = fit.summary()
    for name, truth in (("b_income", 2e-5), ("b_rate", -800.0)):
        assert s.loc[name, "q2.5"] < truth < s.loc[name, "q97.5"], s
    assert fit.diagnostics.max_rhat < 1.05
