"""Parameter recovery on simulated data for every family, with a correlated (1 + x | g) block.

Data are simulated here with NumPy (independently of the package's own simulators).
We test the aggregate: across all families and parameters the 95 % intervals must
cover the truth at close to the nominal rate, and no posterior mean may sit more
than 4 posterior sds from the truth. GLMM_BAYES_FULL=1 runs bigger data and more draws.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import glmm_bayes as gb

FULL = os.environ.get("GLMM_BAYES_FULL") == "1"
N_GROUPS, PER_GROUP = (60, 30) if FULL else (30, 25)
DRAWS = 1000 if FULL else 400
TRUTH = {"b_Intercept": 0.3, "b_x": 0.5, "sd_g__Intercept": 0.7, "sd_g__x": 0.4, "cor_g__Intercept__x": 0.4}
CASES = {
    # name: (family, link, aux truth, intercept override)
    "gaussian": ("gaussian", "identity", {"sigma": 0.8}, None),
    "bernoulli": ("bernoulli", "logit", {}, None),
    "bernoulli_probit": ("bernoulli", "probit", {}, None),
    "binomial_cloglog": ("binomial", "cloglog", {}, -0.5),
    "poisson": ("poisson", "log", {}, 1.0),
    "negativebinomial": ("negativebinomial", "log", {"alpha": 3.0}, 1.0),
    "gamma": ("gamma", "log", {"shape": 4.0}, None),
}


def simulate(family, link, aux, intercept, seed):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(N_GROUPS), PER_GROUP)
    x = rng.normal(size=g.size)
    sd = np.array([TRUTH["sd_g__Intercept"], TRUTH["sd_g__x"]])
    r = TRUTH["cor_g__Intercept__x"]
    cov = np.diag(sd) @ np.array([[1, r], [r, 1]]) @ np.diag(sd)
    u = rng.multivariate_normal([0, 0], cov, size=N_GROUPS)
    b0 = TRUTH["b_Intercept"] if intercept is None else intercept
    eta = b0 + TRUTH["b_x"] * x + u[g, 0] + u[g, 1] * x
    mu = {"identity": eta, "log": np.exp(eta), "logit": special.expit(eta), "probit": stats.norm.cdf(eta),
          "cloglog": 1 - np.exp(-np.exp(eta))}[link]
    df = pd.DataFrame({"x": x, "g": g})
    if family == "gaussian":
        df["y"] = rng.normal(mu, aux["sigma"])
    elif family == "bernoulli":
        df["y"] = rng.binomial(1, mu)
    elif family == "binomial":
        df["n"] = rng.integers(1, 8, size=g.size)
        df["y"] = rng.binomial(df["n"], mu)
    elif family == "poisson":
        df["y"] = rng.poisson(mu)
    elif family == "negativebinomial":
        df["y"] = rng.negative_binomial(aux["alpha"], aux["alpha"] / (aux["alpha"] + mu))
    elif family == "gamma":
        df["y"] = rng.gamma(aux["shape"], mu / aux["shape"])
    truth = dict(TRUTH, b_Intercept=b0, **aux)
    return df, truth


@pytest.fixture(scope="module")
def results():
    rows = []
    for i, (name, (family, link, aux, intercept)) in enumerate(CASES.items()):
        df, truth = simulate(family, link, aux, intercept, seed=100 + i)
        lhs = "p(y, n)" if family == "binomial" else "y"
        model = gb.GLMM(f"{lhs} ~ x + (1 + x | g)", df, family=family, link=link)
        # gamma, poisson: well-informed groups (25 rows each) make the intercept and the non-centred
        # effects strongly correlated; the diagonal mass matrix then needs many more draws (R-hat 1.07
        # at 2 x 400 draws) than the low-rank one (R-hat 1.02); see inference.sample
        adaptation = "low_rank" if family in ("gamma", "poisson") else "diag"
        fit = model.fit(draws=DRAWS, tune=DRAWS, chains=2, seed=7 + i, target_accept=0.9, progressbar=False,
                        warn=False, adaptation=adaptation)
        s = fit.summary()
        for label, value in truth.items():
            row = s.loc[label]
            rows.append({"case": name, "param": label, "truth": value, "mean": row["mean"], "sd": row["sd"],
                         "lo": row["q2.5"], "hi": row["q97.5"], "r_hat": row["r_hat"]})
    return pd.DataFrame(rows)


def test_every_family_converges(results):
    bad = results[results["r_hat"] > 1.05]
    assert bad.empty, bad.to_string()


def test_coverage_of_95_intervals_is_near_nominal(results):
    covered = (results["truth"] >= results["lo"]) & (results["truth"] <= results["hi"])
    n = len(results)
    # P(coverage <= 80 %) under the nominal 95 % is < 1e-4 for n >= 35
    assert covered.mean() >= 0.8, results[~covered].to_string()


def test_no_posterior_mean_far_from_truth(results):
    z = (results["mean"] - results["truth"]) / results["sd"]
    assert (z.abs() < 4).all(), results.assign(z=z)[z.abs() >= 4].to_string()
