"""offset(...) terms: part of the linear predictor with coefficient 1 (rates per unit of exposure)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import glmm_bayes as gb
from glmm_bayes.design import aggregate_design, make_design, parse_formula
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.predict import _linear_predictor

TRUTH = {"b_Intercept": -4.0, "b_x": 0.3, "sd_g__Intercept": 0.5}


def exposure_counts(seed: int = 1, groups: int = 30, per: int = 20) -> pd.DataFrame:
    """Counts over exposures of 50-500 (person-years, say) at rate exp(-4 + 0.3 x + u_g)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x, t = rng.normal(size=g.size), rng.uniform(50, 500, g.size)
    u = rng.normal(0, TRUTH["sd_g__Intercept"], groups)
    y = rng.poisson(t * np.exp(TRUTH["b_Intercept"] + TRUTH["b_x"] * x + u[g]))
    return pd.DataFrame({"y": y, "x": x, "t": t, "g": g.astype(str)})


@pytest.fixture(scope="module")
def rate_fit():
    model = gb.GLMM("y ~ x + offset(np.log(t)) + (1 | g)", exposure_counts(), family="poisson")
    return model.fit(draws=400, tune=400, chains=2, seed=1, progressbar=False, warn=False)


def test_offsets_are_parsed_out_of_the_fixed_effects():
    parsed = parse_formula("y ~ x + offset(np.log(t)) + offset(z) + (1 | g)")
    assert parsed.fixed == "x" and parsed.offsets == ("np.log(t)", "z")
    design = make_design("y ~ x + offset(np.log(t)) + (1 | g)", exposure_counts(), family="poisson")
    assert design.X_columns == ["Intercept", "x"]
    np.testing.assert_allclose(design.offset, np.log(exposure_counts()["t"]))


def test_rates_are_recovered_and_the_likelihood_holds_the_offset(rate_fit):
    """The intervals cover the simulated rate parameters; the stored log-likelihood is Poisson(y | exp(eta)) with
    the offset in eta (to rounding), also for a subset of rows; the default intercept prior sits at the log rate,
    not the log count."""
    s = rate_fit.summary()
    for label, truth in TRUTH.items():
        assert s.loc[label, "q2.5"] < truth < s.loc[label, "q97.5"], (label, s.loc[label])
    df = rate_fit.model.design.data
    eta, _, _ = _linear_predictor(rate_fit, df, "conditional", False, np.random.default_rng(0))
    stored = rate_fit.idata["log_likelihood"]["y"].values.reshape(eta.shape)
    np.testing.assert_allclose(stats.poisson.logpmf(df["y"], np.exp(eta)), stored, rtol=1e-9, atol=1e-12)
    rows = np.arange(0, len(df), 7)  # the data of other rows swapped in, as k-fold does
    subset = rate_fit.model.pointwise_loglik(rate_fit.idata, rows).reshape(len(eta), -1)
    np.testing.assert_allclose(subset, stored[:, rows], rtol=1e-9, atol=1e-12)
    prior = rate_fit.model.priors.set_index("param").loc["b_Intercept", "prior"]
    assert prior.startswith("normal(-3.") or prior.startswith("normal(-4."), prior


def test_predictions_scale_with_the_exposure(rate_fit):
    new = pd.DataFrame({"x": [0.5, 0.5], "t": [100.0, 300.0], "g": ["new", "new"]})
    for re in ("none", "marginal"):
        mean = rate_fit.predict(new, re=re)["mean"].to_numpy()
        assert mean[1] / mean[0] == pytest.approx(3.0, rel=1e-9)
    with pytest.raises(GLMMInputError, match="offset"):
        rate_fit.predict(new.drop(columns="t"))


def test_aggregation_merges_only_rows_with_equal_offsets():
    df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 1], "f": list("aabbbb"), "o": [0.0, 0.0, 0.0, 0.5, 0.5, 0.5]})
    agg = aggregate_design(make_design("y ~ f + offset(o)", df, family="bernoulli"), min_ratio=1.0)
    assert agg.n == 3 and sorted(agg.offset.tolist()) == [0.0, 0.0, 0.5]


def test_bad_offsets():
    df = exposure_counts().assign(t0=lambda d: np.where(d.index == 3, 0.0, d["t"]))
    with pytest.raises(GLMMInputError, match=r"offset\(np.log\(t0\)\).*non-finite"):
        gb.GLMM("y ~ x + offset(np.log(t0))", df, family="poisson")
    with pytest.raises(GLMMInputError, match="one numeric value per row"):
        gb.GLMM("y ~ x + offset(g)", df, family="poisson")
    with pytest.raises(GLMMInputError, match="column 'tt'"):
        gb.GLMM("y ~ x + offset(np.log(tt))", df, family="poisson")
