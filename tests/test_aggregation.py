"""Identical Bernoulli/binomial rows sampled as binomial counts: the same posterior, fewer terms.

The exact check needs no sampling: the aggregated model's log density differs from the per-row
model's by a constant (the log binomial coefficients) at any parameter value, so the posteriors
are identical. Then a fit: the pointwise log-likelihood stays per data row (for LOO), refits
(k-fold, reloo) and SBC re-bin the counts over the chosen rows, and the summaries agree with a
fit of the per-row model within Monte Carlo error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import glmm_bayes as gb


def _data(n: int = 3000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 30, n)
    f = rng.choice(list("abc"), n)
    h = rng.choice(["u", "v"], n)
    u = rng.multivariate_normal([0, 0], [[0.36, 0.1], [0.1, 0.25]], size=30)
    eta = -0.5 + (f == "b") * 0.7 - (f == "c") * 0.4 + (h == "v") * (0.3 + u[g, 1]) + u[g, 0]
    trials = rng.integers(1, 6, n)
    return pd.DataFrame({"y": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int), "f": f, "h": h, "g": g,
                         "s": rng.binomial(trials, 1 / (1 + np.exp(-eta))), "n": trials, "w": np.sin(g)})


@pytest.mark.parametrize("formula, family, form", [("y ~ f + h + (1 + h | g)", "bernoulli", "auto"),
                                                   ("p(s, n) ~ f + (1 | g)", "binomial", "auto"),
                                                   ("y ~ f + (1 | g)", "bernoulli", "auto"),
                                                   ("y ~ f + w + h + (1 + h | g)", "bernoulli", "centred_intercept"),
                                                   ("y ~ f + w + (1 | g)", "bernoulli", "centred")])
def test_aggregated_log_density_differs_by_a_constant(formula, family, form):
    """Also with the group-level predictor w carried in the mean of the centred intercepts."""
    df = _data()
    model = gb.GLMM(formula, df, family=family, parameterization=form)
    assert model.sampling_design.n < model.design.n / 10  # 3000 rows → at most 30 × 3 × 2 × 2 cells
    assert model.sampling_design.response.trials.sum() == (df["n"].sum() if family == "binomial" else len(df))
    per_row, merged = model.pymc_model.compile_logp(), model.sampling_model.compile_logp()
    point = model.pymc_model.initial_point()
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(5):
        moved = {k: v + rng.normal(0, 0.7, np.shape(v)) for k, v in point.items()}
        diffs.append(per_row(moved) - merged(moved))
    # the constant: minus the log binomial coefficients log C(trials, successes) of the merged rows
    agg = model.sampling_design.response
    expected = -np.sum(stats.binom.logpmf(agg.y, agg.trials, 0.5) - agg.trials * np.log(0.5))
    if family == "binomial":  # the per-row model has its own binomial coefficients
        expected += np.sum(stats.binom.logpmf(df["s"], df["n"], 0.5) - df["n"] * np.log(0.5))
    np.testing.assert_allclose(diffs, expected, rtol=1e-9, atol=1e-6)


def test_distinct_rows_are_not_aggregated():
    df = _data().assign(x=lambda d: np.random.default_rng(2).normal(size=len(d)))
    model = gb.GLMM("y ~ x + (1 | g)", df, family="bernoulli")
    assert model.sampling_design is model.design
    assert gb.GLMM("y ~ f + (1 | g)", _data(), family="bernoulli", aggregate=False).sampling_design.n == 3000


def test_refit_and_sbc_arrays_rebin_the_chosen_rows():
    df = _data()
    model = gb.GLMM("y ~ f + h + (1 | g)", df, family="bernoulli")
    rows = np.arange(0, 3000, 3)
    arrays = model.sampling_arrays(rows)
    assert arrays["trials"].sum() == len(rows) and arrays["y_obs"].sum() == df["y"].iloc[rows].sum()
    assert len(arrays["trials"]) == model.sampling_design.n  # same shapes: the compiled model is re-used
    y = 1 - df["y"].to_numpy()
    flipped = model.sampling_arrays(y=y)
    assert flipped["y_obs"].sum() == y.sum()
    # the likelihood's data-only term log C(n, y) follows the re-binned counts (rows, or a simulated y)
    for a in (arrays, flipped):
        log_choose = stats.binom.logpmf(a["y_obs"], a["trials"], 0.5) - a["trials"] * np.log(0.5)
        np.testing.assert_allclose(a["y_const"], log_choose, rtol=1e-9, atol=1e-9)


def test_fit_matches_the_per_row_model_and_keeps_per_row_loglik():
    df = _data()
    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for aggregate in (True, False):
            model = gb.GLMM("y ~ f + h + (1 | g)", df, family="bernoulli", aggregate=aggregate)
            fits[aggregate] = model.fit(draws=1000, tune=500, chains=2, seed=3, progressbar=False)
    merged, per_row = fits[True].summary(), fits[False].summary()
    tolerance = 5 * np.hypot(merged["mcse_mean"], per_row["mcse_mean"]) + 0.05 * per_row["sd"]
    assert ((merged["mean"] - per_row["mean"]).abs() < tolerance).all(), (merged, per_row)
    np.testing.assert_allclose(merged["sd"], per_row["sd"], rtol=0.2)
    ll = fits[True].idata["log_likelihood"]["y"]
    assert ll.shape[-1] == len(df)  # per data row, so LOO is per row
    assert fits[True].idata["observed_data"]["y"].values.tolist() == df["y"].tolist()
    elpd = [float(f.loo().elpd) for f in fits.values()]
    assert abs(elpd[0] - elpd[1]) < 2.0
    folds = fits[True].kfold(k=3, seed=0, draws=300, executor="serial")
    assert np.isfinite(float(folds.elpd)) and abs(float(folds.elpd) - elpd[0]) < 15
