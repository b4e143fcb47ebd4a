"""Predictions: conditional / new levels / typical group / population-averaged (marginal)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.families import LINKS
from glmm_bayes.predict import marginal_inverse_link
from conftest import dataset, reference


def toy(seed=4, groups=10, per=12):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    u = rng.multivariate_normal([0, 0], [[1.0, 0.3], [0.3, 0.25]], size=groups)
    y = 2 + 0.7 * x + u[g, 0] + u[g, 1] * x + rng.normal(0, 0.5, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"d{i}" for i in g]})


@pytest.fixture(scope="module")
def gfit():
    return gb.GLMM("y ~ x + (1 + x | g)", toy()).fit(draws=300, tune=400, chains=2, seed=2, progressbar=False,
                                                     warn=False)


@pytest.mark.parametrize("eta,sd", [(-2.0, 0.3), (0.0, 1.0), (1.5, 2.5), (-0.7, 4.0)])
def test_quadrature_matches_closed_forms(eta, sd):
    eta_a, var = np.array([eta]), np.array([sd ** 2])
    probit = marginal_inverse_link(LINKS["probit"], eta_a, var)
    assert probit[0] == pytest.approx(stats.norm.cdf(eta / np.sqrt(1 + sd ** 2)), abs=1e-4)
    log = marginal_inverse_link(LINKS["log"], eta_a, var)
    assert log[0] == pytest.approx(np.exp(eta + sd ** 2 / 2), rel=1e-4)
    # logit against brute-force numerical integration
    grid = np.linspace(-12, 12, 200001) * sd
    brute = np.trapezoid(special.expit(eta + grid) * stats.norm.pdf(grid, scale=sd), grid)
    assert marginal_inverse_link(LINKS["logit"], eta_a, var)[0] == pytest.approx(brute, abs=1e-6)


def test_probit_fit_marginal_equals_closed_form_per_draw():
    rng = np.random.default_rng(9)
    g = np.repeat(np.arange(12), 15)
    x = rng.normal(size=g.size)
    y = rng.binomial(1, stats.norm.cdf(-0.2 + 0.6 * x + rng.normal(0, 0.8, 12)[g]))
    fit = gb.GLMM("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}), family="bernoulli",
                  link="probit").fit(draws=100, tune=200, chains=2, seed=1, progressbar=False, warn=False)
    new = pd.DataFrame({"x": [-1.0, 0.0, 2.0], "g": [0, 0, 0]})
    p = fit.predict(new, re="marginal").draws.values.reshape(-1, 3)
    draws = fit.parameter_draws()
    b = np.stack([draws["b_Intercept"].values.ravel(), draws["b_x"].values.ravel()], axis=1)
    sd = fit.posterior["sd_g"].values.reshape(-1)
    eta = b[:, :1] + b[:, 1:] * new["x"].to_numpy()
    np.testing.assert_allclose(p, stats.norm.cdf(eta / np.sqrt(1 + sd[:, None] ** 2)), atol=1e-4)


def test_conditional_predictions_reproduce_the_likelihood(gfit):
    """The stored log-likelihood (computed by PyMC's graph) equals Normal(y | predicted mean, sigma)."""
    mean = gfit.predict(kind="mean", re="conditional").draws.values
    sigma = gfit.posterior["sigma"].values[..., None]
    ll = stats.norm.logpdf(gfit.model.design.response.y, loc=mean, scale=sigma)
    np.testing.assert_allclose(ll, gfit.idata["log_likelihood"]["y"].values, rtol=1e-7, atol=1e-7)


def test_new_levels_have_population_spread(gfit):
    new = pd.DataFrame({"x": [0.0, 0.0], "g": ["d3", "never-seen"]})
    lin = gfit.predict(new, kind="linear", re="conditional", seed=1).draws.values.reshape(-1, 2)
    b0 = gfit.parameter_draws()["b_Intercept"].values.ravel()
    sd0 = gfit.posterior["sd_g"].sel(g__coef="Intercept").values.ravel()
    expected = np.sqrt(np.var(b0) + np.mean(sd0 ** 2))
    assert np.std(lin[:, 1]) == pytest.approx(expected, rel=0.1)
    assert np.std(lin[:, 1]) > 1.5 * np.std(lin[:, 0])  # a known doctor is much more certain
    two = gfit.predict(pd.DataFrame({"x": [0.0] * 3, "g": ["new1", "new2", "new1"]}), kind="linear", seed=2)
    d = two.draws.values.reshape(-1, 3)
    assert not np.allclose(d[:, 0], d[:, 1]) and np.allclose(d[:, 0], d[:, 2])  # distinct new levels differ
    with pytest.raises(GLMMInputError, match="never-seen"):
        gfit.predict(new, allow_new_levels=False)
    typical = gfit.predict(new, kind="linear", re="none").draws.values.reshape(-1, 2)
    np.testing.assert_allclose(typical[:, 0], b0)


def test_pps_has_residual_noise(gfit):
    pps = gfit.predict(kind="pps", seed=3)
    mean = gfit.predict(kind="mean")
    assert (pps["sd"] > mean["sd"]).all()
    assert pps.draws.dims == ("chain", "draw", "obs")
    assert np.mean(np.abs(pps["mean"] - mean["mean"])) < 0.1


def test_ohio_marginal_against_reference():
    ref = reference("ohio")
    fit = gb.GLMM(ref["formula"], dataset("ohio.csv"), family="bernoulli", priors=ref["priors"]).fit(
        draws=1000, tune=1000, chains=4, seed=3, target_accept=0.9, progressbar=False, warn=False)
    rows = pd.DataFrame([r["row"] for r in ref["marginal_predictions"]]).assign(id=-1)
    for re, key in (("marginal", "marginal"), ("none", "conditional_zero_re")):
        pred = fit.predict(rows, kind="mean", re=re)
        import arviz as az

        mcse = az.mcse(pred.draws.rename("p").to_dataset()).p.values
        for i, r in enumerate(ref["marginal_predictions"]):
            want = r[key]
            assert abs(pred["mean"].iloc[i] - want["mean"]) <= 0.15 * want["sd"] + 4 * mcse[i], (re, r["row"])
    marginal = fit.predict(rows, re="marginal")["mean"].to_numpy()
    typical = fit.predict(rows, re="none")["mean"].to_numpy()
    # logit link: averaging over the random intercept pulls probabilities toward 0.5
    assert np.all(np.abs(marginal - 0.5) < np.abs(typical - 0.5))


def test_predictions_of_the_fitted_rows_keep_the_data_labels(tmp_path):
    """With rows dropped for missing values, predict() labels each prediction with its data row's own label
    (so df.join(fit.predict()) lines up), the same as predict(df.dropna()); a saved fit keeps the labels."""
    df = toy(groups=6, per=8)
    df.index = [f"p{i}" for i in range(len(df))]
    df.loc[["p3", "p7"], "x"] = np.nan
    with pytest.warns(UserWarning, match="dropped 2"):
        model = gb.GLMM("y ~ x + (1 | g)", df, na_action="drop")
    fit = model.fit(draws=100, tune=150, chains=1, seed=1, progressbar=False, warn=False)
    fitted, again = fit.predict(), fit.predict(df.dropna())
    assert list(fitted.index) == list(df.dropna().index)
    np.testing.assert_allclose(fitted["mean"], again.loc[fitted.index, "mean"])
    fit.save(tmp_path / "fit.nc")
    assert list(gb.load(tmp_path / "fit.nc").predict().index) == list(fitted.index)


def test_predictions_without_group_effects_need_no_grouping_column(gfit):
    """re='none' and re='marginal' use no group levels, so newdata may lack the grouping column (as brms'
    re_formula = NA); re='conditional' still asks for it."""
    new = pd.DataFrame({"x": [-1.0, 0.0, 2.0]})
    with_groups = new.assign(g="d0")
    for re in ("none", "marginal"):
        np.testing.assert_allclose(gfit.predict(new, re=re)["mean"], gfit.predict(with_groups, re=re)["mean"])
    with pytest.raises(GLMMInputError, match="column 'g'"):
        gfit.predict(new)
