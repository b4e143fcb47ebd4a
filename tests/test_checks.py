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
