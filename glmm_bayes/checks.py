"""Model checks: posterior/prior predictive checks, LOO-PIT, randomized quantile residuals, ICC, R².

* :func:`posterior_predictive` draws replicated data (conditional on the fitted
  group effects) and stores it as the ``posterior_predictive`` group.
* :func:`quantile_residuals` — simulation-based randomized quantile residuals
  (Dunn & Smyth 1996; the DHARMa approach): ``r_i = P(y_rep < y_i) + U·P(y_rep = y_i)``,
  uniform on (0, 1) under a correct model. :func:`residual_tests` adds a
  Kolmogorov–Smirnov uniformity test and DHARMa's dispersion test (observed
  spread of ``y - E[y_rep]`` against the simulated spread).
* :func:`icc` — latent-scale intraclass correlation of each random intercept:
  ``σ²_u / (Σ σ²_u + σ²_ε)`` with σ²_ε = σ² (gaussian), π²/3 (logit),
  1 (probit), π²/6 (cloglog), ln(1 + 1/λ) (Poisson) and ln(1 + 1/λ + 1/α)
  (negative binomial), λ = exp(b_Intercept + ½ Σ σ²_u) (Nakagawa, Johnson &
  Schielzeth 2017, lognormal approximation). With random slopes it is the ICC at
  the slope variables' zero.
* :func:`bayes_r2` — Bayesian R² (Gelman, Goodrich, Gabry & Vehtari 2019):
  ``var(μ) / (var(μ) + mean Var[y|μ])`` per draw; ``marginal`` uses the fixed
  effects only (μ with group effects at zero), ``conditional`` the group effects too.

Example
-------
>>> # fit.ppc(); fit.plot_ppc(kind="bars"); fit.residual_tests(); fit.icc(); fit.r2()
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from glmm_bayes.errors import GLMMInputError

LATENT_VARIANCE = {"logit": np.pi ** 2 / 3, "probit": 1.0, "cloglog": np.pi ** 2 / 6}


def posterior_predictive(fit, seed: int | None = None) -> xr.DataArray:
    """Replicated data ``y_rep`` (chain, draw, obs) for the training rows; stored in ``fit.idata``."""
    draws = fit.predict(kind="pps", re="conditional", seed=seed).draws.rename("y")
    if "category" in draws.dims:  # categorical: 0/1 per category → the drawn category's code, as y holds
        draws = draws.argmax("category")
    fit.idata["posterior_predictive"] = xr.DataTree(draws.to_dataset())
    return draws


def _y_rep(fit, seed: int | None = None) -> np.ndarray:
    if "posterior_predictive" not in fit.idata.children:
        posterior_predictive(fit, seed)
    v = fit.idata["posterior_predictive"]["y"].values
    return v.reshape(-1, v.shape[-1])


def quantile_residuals(fit, seed: int | None = 0) -> np.ndarray:
    """Randomized quantile residuals on the uniform scale (see module docstring)."""
    rng = np.random.default_rng(seed)
    response = fit.model.design.response
    if fit.model.design.family.nominal:
        raise GLMMInputError("quantile residuals need ordered outcomes; the categories of a categorical response "
                             "have no order. Check the fit with fit.plot_ppc() (category frequencies) instead")
    y = response.y
    y_rep = _y_rep(fit, seed)
    below = (y_rep < y).mean(axis=0)
    width = (y_rep == y).mean(axis=0)
    if response.status is not None:  # censored rows: T > t (right) or T < t (left) is all we know, so
        right, left = response.status == 0, response.status == -1  # the residual is uniform on that range
        width = np.where(right, 1 - below, width)
        below, width = np.where(left, 0.0, below), np.where(left, below, width)
    return below + rng.uniform(size=len(y)) * width


def residual_tests(fit, seed: int | None = 0) -> pd.DataFrame:
    """KS uniformity test of the quantile residuals and the DHARMa dispersion test.

    A small p-value flags a misfit (e.g. a Poisson model for overdispersed counts).
    """
    r = quantile_residuals(fit, seed)
    ks = stats.kstest(r, "uniform")
    y = fit.model.design.response.y
    y_rep = _y_rep(fit, seed)
    if fit.model.design.response.status is not None:  # observed times are cut short by censoring: their
        return pd.DataFrame({  # spread cannot be compared with uncensored replicates
            "test": ["uniformity (KS)", "dispersion"], "statistic": [ks.statistic, np.nan],
            "p_value": [ks.pvalue, np.nan],
            "reading": ["residuals look uniform" if ks.pvalue >= 0.05 else
                        "residuals are not uniform: the model misfits",
                        "not defined for censored outcomes"]})
    expected = y_rep.mean(axis=0)
    observed_spread = np.var(y - expected)
    simulated_spread = np.var(y_rep - expected, axis=1)
    ratio = observed_spread / simulated_spread.mean()
    p_disp = 2 * min((simulated_spread >= observed_spread).mean(), (simulated_spread <= observed_spread).mean())
    return pd.DataFrame({
        "test": ["uniformity (KS)", "dispersion"],
        "statistic": [ks.statistic, ratio],
        "p_value": [ks.pvalue, max(p_disp, 1 / len(simulated_spread))],
        "reading": [
            "residuals look uniform" if ks.pvalue >= 0.05 else "residuals are not uniform: the model misfits",
            ("dispersion as expected" if p_disp >= 0.05 else
             "overdispersion: data vary more than the model allows" if ratio > 1 else
             "underdispersion: data vary less than the model allows")],
    })


def loo_pit(fit, seed: int | None = 0) -> np.ndarray:
    """LOO probability integral transform values (ArviZ), one per row; uniform under a good model."""
    if fit.model.design.family.nominal:
        raise GLMMInputError("LOO-PIT needs ordered outcomes; the categories of a categorical response have no "
                             "order. Check the fit with fit.plot_ppc() (category frequencies) instead")
    import arviz as az

    _y_rep(fit, seed)
    pit = az.loo_pit(fit.ensure_log_likelihood(), var_names=["y"], random_state=seed)
    return np.asarray(pit["y"].values if hasattr(pit, "data_vars") else pit).ravel()


# ---------------------------------------------------------------- summaries
def icc(fit, prob: float = 0.95) -> pd.DataFrame:
    """Latent-scale ICC of each grouping factor's intercept, with a credible interval.

    The residual variance on the latent (link) scale follows Nakagawa, Johnson & Schielzeth (2017): sigma^2
    (gaussian, lognormal's log T), sigma^2 nu / (nu - 2) (student_t), pi^2/3, 1 or pi^2/6 (logit, probit,
    cloglog: binary, binomial and ordinal), log(1 + 1/lambda [+ 1/alpha]) (poisson, negative binomial),
    trigamma(shape) (gamma, log link) and pi^2 / (6 shape^2) (weibull; exponential: shape 1).

    >>> # fit.icc()   # group, icc, sd, q2.5, q97.5
    """
    design, post = fit.model.design, fit.posterior
    if design.eta_names:
        raise GLMMInputError("icc() is not defined for the categorical family (one latent scale per category)")
    var_u = {}
    for block in design.blocks:
        if "Intercept" in block.columns:
            sd = post[f"sd_{block.key}"].sel({f"{block.key}__coef": "Intercept"}).values.ravel()
            var_u[block.label] = sd ** 2
    if not var_u:
        raise GLMMInputError("icc() needs at least one random intercept, e.g. (1 | group)")
    total_u = sum(var_u.values())
    resid = _latent_residual_variance(fit, total_u)
    rows = []
    for label, v in var_u.items():
        values = v / (total_u + resid)
        q = np.quantile(values, [(1 - prob) / 2, (1 + prob) / 2])
        rows.append({"group": label, "icc": values.mean(), "sd": values.std(ddof=1),
                     f"q{100 * (1 - prob) / 2:g}": q[0], f"q{100 * (1 + prob) / 2:g}": q[1]})
    return pd.DataFrame(rows)


def _latent_residual_variance(fit, total_u: np.ndarray) -> np.ndarray:
    design, post = fit.model.design, fit.posterior
    family, link = design.family.name, design.link
    if family == "gaussian" and link == "identity":
        return post["sigma"].values.ravel() ** 2
    if (family in ("bernoulli", "binomial") or design.family.ordinal) and link in LATENT_VARIANCE:
        return np.full_like(total_u, LATENT_VARIANCE[link])
    if family == "lognormal" or (family == "student_t" and link == "identity"):
        sigma2 = post["sigma"].values.ravel() ** 2
        if family == "lognormal":  # log T ~ Normal(eta, sigma): the latent scale is log T itself
            return sigma2
        nu = post["nu"].values.ravel()  # a t's variance; infinite for nu <= 2 (the ICC is then 0)
        return np.where(nu > 2, sigma2 * nu / np.maximum(nu - 2, 1e-300), np.inf)
    if family in ("weibull", "exponential"):  # log T = eta + log(E) / shape, E ~ Exp(1), var(log E) = pi^2 / 6
        shape = post["shape"].values.ravel() if family == "weibull" else 1.0
        return np.broadcast_to(np.pi ** 2 / 6 / np.asarray(shape) ** 2, total_u.shape).astype(float)
    if family == "gamma" and link == "log":  # var(log Y) of a gamma with that shape: trigamma(shape)
        from scipy.special import polygamma

        return polygamma(1, post["shape"].values.ravel())
    if family in ("poisson", "negativebinomial") and link == "log":
        if "Intercept" not in design.X_columns:
            raise GLMMInputError("icc() for count models needs a fixed intercept")
        b0 = fit.parameter_draws()["b_Intercept"].values.ravel()
        lam = np.exp(b0 + total_u / 2)
        extra = 1 / post["alpha"].values.ravel() if family == "negativebinomial" else 0.0
        return np.log1p(1 / lam + extra)
    raise GLMMInputError(f"icc() is not defined for family '{family}' with link '{link}'")


def bayes_r2(fit, prob: float = 0.95) -> pd.DataFrame:
    """Bayesian R², marginal (fixed effects) and conditional (with group effects)."""
    from glmm_bayes.predict import _broadcast_aux, _linear_predictor

    design = fit.model.design
    if design.family.nominal:
        raise GLMMInputError("Bayesian R² needs a numeric outcome; a categorical response has none. Compare "
                             "categorical models with fit.loo() instead")
    family, link, extra = design.family, design.link, design.response.extra
    eta_c, _, ds = _linear_predictor(fit, design.data, "conditional", True, np.random.default_rng(0))
    aux = _broadcast_aux(ds.aux, eta_c)
    rows = design.evaluate(design.data)
    eta_none = ds.fixed_eta(rows.X, rows.offset)  # group effects set to zero
    mu_c = family.response_mean(eta_c, link, aux, extra)
    # the residual variance always uses the conditional mean (all structure explained)
    var_res_c = family.response_variance(eta_c, link, aux, extra).mean(axis=1)
    rows = []
    for name, re in (("marginal", "none"), ("conditional", "conditional")):
        mu = mu_c if re == "conditional" else family.response_mean(eta_none, link, aux, extra)
        var_mu = mu.var(axis=1)
        var_res = var_res_c
        if re == "none":
            var_res = var_res + (mu_c - mu).var(axis=1)
        r2 = var_mu / (var_mu + var_res)
        q = np.quantile(r2, [(1 - prob) / 2, (1 + prob) / 2])
        rows.append({"r2": name, "mean": r2.mean(), "sd": r2.std(ddof=1), f"q{100 * (1 - prob) / 2:g}": q[0],
                     f"q{100 * (1 + prob) / 2:g}": q[1]})
    return pd.DataFrame(rows)


def effective_parameters(fit) -> pd.DataFrame:
    """p_loo and p_waic next to the nominal parameter count (fixed + group-level effects)."""
    d = fit.model.design
    nominal_fixed = len(d.coef_names)
    nominal_group = sum(len(b.levels) * len(b.coef_names) for b in d.blocks)
    loo = fit.loo()
    waic = fit.waic(warn=False)
    return pd.DataFrame({"quantity": ["p_loo", "p_waic", "nominal fixed", "nominal group-level", "nominal total"],
                         "value": [float(loo.p), waic.p, nominal_fixed, nominal_group,
                                   nominal_fixed + nominal_group]})
