"""Survival with censoring and a frailty, against independent estimates.

Data: 60 clusters × 5 subjects, Weibull AFT times (shape 2) with a cluster frailty (sd 0.8 on
the log-time scale), independent uniform censoring. Checks: the population-averaged survival
curve (frailty integrated out) follows the Kaplan–Meier estimate of the data (a nonparametric
estimate of exactly that marginal curve), while the typical-cluster curve (frailty 0) differs;
randomized quantile residuals that account for censoring are uniform for the right family and
not for a wrong one (exponential, i.e. shape fixed at 1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb

SHAPE, B0, FRAILTY_SD = 2.0, 2.0, 0.8


def kaplan_meier(time: np.ndarray, event: np.ndarray, at: np.ndarray) -> np.ndarray:
    order = np.argsort(time)
    t, d = time[order], event[order]
    at_risk = len(t) - np.arange(len(t))
    factors = np.where(d == 1, 1 - 1 / at_risk, 1.0)
    surv = np.cumprod(factors)
    idx = np.searchsorted(t, at, side="right") - 1
    return np.where(idx >= 0, surv[np.maximum(idx, 0)], 1.0)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(42)
    g = np.repeat(np.arange(60), 5)
    u = rng.normal(0, FRAILTY_SD, 60)[g]
    t = np.exp(B0 + u) * rng.weibull(SHAPE, size=g.size)
    c = rng.uniform(0, 30, size=g.size)
    return pd.DataFrame({"time": np.minimum(t, c), "status": (t <= c).astype(int), "g": g})


@pytest.fixture(scope="module")
def fits(data):
    out = {}
    for family in ("weibull", "exponential"):
        model = gb.GLMM("censored(time, status) ~ 1 + (1 | g)", data, family=family)
        out[family] = model.fit(draws=400, tune=400, chains=2, seed=3, progressbar=False, warn=False)
    return out


def test_population_averaged_curve_follows_kaplan_meier(data, fits):
    fit = fits["weibull"]
    assert 0.1 < 1 - data["status"].mean() < 0.5  # censoring really happens
    assert fit.summary().loc["shape", "q2.5"] < SHAPE < fit.summary().loc["shape", "q97.5"]
    times = np.quantile(data["time"], [0.2, 0.4, 0.6, 0.8])
    km = kaplan_meier(data["time"].to_numpy(), data["status"].to_numpy(), times)
    new = pd.DataFrame({"g": ["a new cluster"]})
    marginal = fit.survival(new, times, re="marginal")["mean"].to_numpy()
    typical = fit.survival(new, times, re="none")["mean"].to_numpy()
    # KM's standard error here is about 0.03; the model curve must stay within 0.07 of it
    assert np.abs(marginal - km).max() < 0.07, (marginal, km)
    # averaging over frailties flattens the curve: the typical cluster's curve is not the average one
    assert np.abs(typical - marginal).max() > 0.04, (typical, marginal)
    conditional = fit.survival(data.iloc[:1], times, re="conditional")
    assert conditional["q2.5"].le(conditional["mean"]).all() and conditional["mean"].le(conditional["q97.5"]).all()


def test_censored_quantile_residuals_detect_the_wrong_family(fits):
    right = fits["weibull"].residual_tests()
    wrong = fits["exponential"].residual_tests()
    assert right.loc[0, "p_value"] > 0.01, right
    assert wrong.loc[0, "p_value"] < 0.01, wrong
    assert np.isnan(right.loc[1, "p_value"])  # dispersion test not defined with censoring
    assert fits["weibull"].loo().elpd > fits["exponential"].loo().elpd + 4


def test_censored_kfold_refits_agree_with_loo(fits, data):
    """Each fold swaps in its rows' censoring (the event / right- / left-censored row indices change length)
    without recompiling, and a held-out censored row scores log S(t). k-fold over rows and LOO estimate the
    same expected log predictive density: they must agree within two standard errors."""
    fit = fits["weibull"]
    assert (data["status"] == 0).sum() > 20  # the held-out folds contain censored rows
    kfold = fit.kfold(k=5, seed=2, draws=300, tune=300, executor="serial")
    loo = fit.loo()
    assert np.isfinite(kfold.elpd_i).all() and len(kfold.elpd_i) == len(data)
    assert abs(kfold.elpd - loo.elpd) < 2 * loo.se, (kfold.elpd, loo.elpd, loo.se)
    # the censored rows' held-out terms are log-survivals: at most 0, unlike a log-density
    assert (np.asarray(kfold.elpd_i)[data["status"].to_numpy() == 0] <= 0).all()


def test_a_simulated_time_below_its_censoring_bound_is_an_event(data):
    """SBC refits swap in simulated times drawn as pm.Censored draws them, min(T, bound): a row censored in
    the data whose simulated time falls below its bound is an event of the simulated data (scored by log f),
    one at its bound stays censored (log S)."""
    model = gb.GLMM("censored(time, status) ~ 1 + (1 | g)", data, family="weibull")
    censored = np.flatnonzero(data["status"].to_numpy() == 0)
    assert set(model.sampling_arrays()["cens_right_index"]) == set(censored)
    simulated = data["time"].to_numpy().copy()
    simulated[censored[:3]] *= 0.5
    arrays = model.sampling_arrays(y=simulated)
    assert set(arrays["cens_right_index"]) == set(censored[3:])
    assert set(censored[:3]) <= set(arrays["cens_event_index"])
    assert len(arrays["cens_event_index"]) + len(arrays["cens_right_index"]) == len(data)
