"""Predictive checks, quantile residuals, ICC, R² and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb

SAMPLE = dict(draws=300, tune=400, chains=2, progressbar=False, warn=False)


def counts(overdispersed: bool, seed=0, groups=20, per=20):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    mu = np.exp(1.0 + 0.4 * x + rng.normal(0, 0.4, groups)[g])
    y = rng.negative_binomial(1.5, 1.5 / (1.5 + mu)) if overdispersed else rng.poisson(mu)
    return pd.DataFrame({"y": y, "x": x, "g": g})


@pytest.fixture(scope="module")
def fits():
    over, fine = counts(True), counts(False, seed=1)
    return {
        "poisson_on_overdispersed": gb.GLMM("y ~ x + (1 | g)", over, family="poisson").fit(seed=1, **SAMPLE),
        "negbin_on_overdispersed": gb.GLMM("y ~ x + (1 | g)", over, family="negativebinomial").fit(seed=1, **SAMPLE),
        "poisson_on_poisson": gb.GLMM("y ~ x + (1 | g)", fine, family="poisson").fit(seed=1, **SAMPLE),
    }


def test_overdispersion_is_flagged_and_correct_models_are_not(fits):
    bad = fits["poisson_on_overdispersed"].residual_tests()
    assert bad.set_index("test").loc["dispersion", "p_value"] < 0.01
    assert bad.set_index("test").loc["dispersion", "statistic"] > 1.5
    assert bad.set_index("test").loc["uniformity (KS)", "p_value"] < 0.01
    for name in ("negbin_on_overdispersed", "poisson_on_poisson"):
        ok = fits[name].residual_tests().set_index("test")
        assert ok.loc["dispersion", "p_value"] > 0.05, name
        assert ok.loc["uniformity (KS)", "p_value"] > 0.05, name


def test_loo_pit_is_uniformish_for_correct_model(fits):
    pit = fits["poisson_on_poisson"].loo_pit()
    assert pit.shape == (400,) and np.all((pit >= 0) & (pit <= 1))
    assert abs(np.mean(pit) - 0.5) < 0.05


def test_icc_of_simulated_logistic_model_is_recovered():
    rng = np.random.default_rng(5)
    sd = 1.2
    g = np.repeat(np.arange(60), 25)
    y = rng.binomial(1, 1 / (1 + np.exp(-(-0.3 + rng.normal(0, sd, 60)[g]))))
    fit = gb.GLMM("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": g}), family="bernoulli").fit(seed=2, **SAMPLE)
    truth = sd ** 2 / (sd ** 2 + np.pi ** 2 / 3)
    table = fit.icc()
    assert table.loc[0, "q2.5"] <= truth <= table.loc[0, "q97.5"]
    r2 = fit.r2().set_index("r2")
    assert 0 <= r2.loc["marginal", "mean"] < r2.loc["conditional", "mean"] <= 1


@pytest.mark.parametrize("family", ["lognormal", "weibull", "gamma"])
def test_icc_of_continuous_families_is_recovered(family):
    """The latent-scale residual variance of each family (sigma^2; pi^2 / (6 shape^2); trigamma(shape)): the
    95 % interval covers the ICC computed from the simulation's own effects and parameters."""
    from scipy.special import polygamma

    rng = np.random.default_rng(8)
    sd, aux = 0.8, {"lognormal": 0.7, "weibull": 2.0, "gamma": 1.5}[family]
    g = np.repeat(np.arange(50), 20)
    u = rng.normal(0, sd, 50)
    eta = 0.5 + u[g]
    y = {"lognormal": lambda: np.exp(eta + rng.normal(0, aux, g.size)),
         "weibull": lambda: np.exp(eta) * rng.weibull(aux, g.size),
         "gamma": lambda: rng.gamma(aux, np.exp(eta) / aux)}[family]()
    resid = {"lognormal": aux ** 2, "weibull": np.pi ** 2 / 6 / aux ** 2, "gamma": float(polygamma(1, aux))}[family]
    fit = gb.GLMM("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": g}), family=family).fit(seed=3, **SAMPLE)
    table = fit.icc()
    var_u = u.var(ddof=1)  # the drawn effects' variance: 20 rows per group pin each effect down
    assert table.loc[0, "q2.5"] <= var_u / (var_u + resid) <= table.loc[0, "q97.5"]


def test_effective_parameters_below_nominal(fits):
    table = fits["poisson_on_poisson"].effective_parameters().set_index("quantity")["value"]
    assert 0 < table["p_loo"] < table["nominal total"] and table["nominal total"] == 2 + 20


@pytest.mark.parametrize("call", ["plot_ppc", "plot_ppc_grouped", "plot_ppc_ecdf", "plot_residuals",
                                  "plot_loo_pit", "caterpillar", "plot_khat"])
def test_figures_have_titles_and_labels(fits, call):
    fit = fits["poisson_on_poisson"]
    fig = {"plot_ppc": lambda: fit.plot_ppc(), "plot_ppc_grouped": lambda: fit.plot_ppc(group="g", stat="zeros"),
           "plot_ppc_ecdf": lambda: fit.plot_ppc(kind="ecdf"), "plot_residuals": fit.plot_residuals,
           "plot_loo_pit": fit.plot_loo_pit, "caterpillar": lambda: fit.caterpillar("g"),
           "plot_khat": fit.plot_khat}[call]()
    for ax in fig.axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def test_effects_and_prior_predictive():
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(15), 20)
    x = rng.normal(size=g.size)
    arm = rng.choice(["ctrl", "drug"], size=g.size)
    eta = -0.2 + 0.8 * x + 0.7 * (arm == "drug") + rng.normal(0, 1.0, 15)[g]
    df = pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "x": x, "arm": arm, "g": g})
    model = gb.GLMM("y ~ x + arm + (1 | g)", df, family="bernoulli")
    fit = model.fit(seed=3, **SAMPLE)
    ame = fit.effects("x", re="none")
    assert ame.loc[0, "contrast"] == "dE[y]/dx" and 0.05 < ame.loc[0, "estimate"] < 0.35
    ame_marg = fit.effects("x", re="marginal")
    # averaging over the random intercept flattens the curve: a smaller average slope
    assert ame_marg.loc[0, "estimate"] < ame.loc[0, "estimate"]
    contrast = fit.effects("arm")
    assert contrast.loc[0, "contrast"] == "drug - ctrl" and contrast.loc[0, "estimate"] > 0
    by = fit.effects("x", by="arm")
    assert list(by["arm"]) == ["ctrl", "drug"]
    fig = fit.plot_effects("x")
    assert len(fig.axes) == 2 and all(ax.get_title() for ax in fig.axes)
    prior = model.prior_predictive(draws=50, seed=1)
    assert prior["prior_predictive"]["y"].shape[-1] == len(df)
    assert model.plot_prior_predictive(draws=30).axes[0].get_title()


def test_beta_prior_predictive_with_the_vague_default_phi():
    """PyMC draws beta outcomes with scipy, which did not return for the shapes ~1e-300 that the default
    phi ~ gamma(0.01, 0.01) gives; the family's NumPy simulator draws them instead. Its draws must have the
    Beta(mu, phi) moments when the prior pins mu and phi down."""
    import time

    from scipy.special import expit

    rng = np.random.default_rng(2)
    df = pd.DataFrame({"y": rng.uniform(0.05, 0.95, 60), "x": rng.normal(size=60), "g": np.repeat(list("abcdef"), 10)})
    start = time.perf_counter()
    prior = gb.GLMM("y ~ x + (1 | g)", df, family="beta").prior_predictive(draws=300, seed=1)
    assert time.perf_counter() - start < 120
    assert (prior["prior"]["phi"].values < 1e-200).any()  # the region that used to hang was drawn
    y = prior["prior_predictive"]["y"].values
    assert y.shape[-1] == 60 and np.isfinite(y).all() and (y > 0).all() and (y < 1).all()

    tight = {"Intercept": "normal(0.5, 0.001)", "b": "normal(0, 0.001)", "sd": "half_normal(0.001)",
             "phi": "gamma(10000, 100)"}  # mu = expit(0.5), phi = 100
    y = gb.GLMM("y ~ x + (1 | g)", df, family="beta", priors=tight).prior_predictive(draws=400, seed=3)
    y = y["prior_predictive"]["y"].values.ravel()
    mu = expit(0.5)
    assert abs(y.mean() - mu) < 4 * np.sqrt(mu * (1 - mu) / 101 / y.size)
    assert y.var() == pytest.approx(mu * (1 - mu) / 101, rel=0.05)
