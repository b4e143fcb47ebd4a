"""Model comparison, reloo and grouped k-fold."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError

SAMPLE = dict(chains=2, progressbar=False, warn=False)


def overdispersed(seed=11, groups=25, per=16, alpha=0.6):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    mu = np.exp(1.2 + 0.5 * x + rng.normal(0, 0.3, groups)[g])
    return pd.DataFrame({"y": rng.negative_binomial(alpha, alpha / (alpha + mu)), "x": x, "g": g,
                         "row": np.arange(g.size)})


def test_true_family_wins_the_comparison():
    df = overdispersed()
    fits = {
        "poisson": gb.GLMM("y ~ x + (1 | g)", df, family="poisson").fit(draws=400, tune=400, seed=1, **SAMPLE),
        "poisson_olre": gb.GLMM("y ~ x + (1 | g) + (1 | row)", df, family="poisson").fit(
            draws=400, tune=600, seed=1, target_accept=0.9, **SAMPLE),
        "negbin": gb.GLMM("y ~ x + (1 | g)", df, family="negativebinomial").fit(draws=400, tune=400, seed=1,
                                                                                **SAMPLE),
    }
    result = gb.compare(fits)
    table = result.table
    # the observation-level effect is integrated out for LOO, so PSIS works for that model too
    assert table.set_index("model").loc["poisson_olre", "n_high_pareto_k"] <= 5, table
    assert table.iloc[0]["model"] == "negbin"
    assert table.set_index("model")["weight"].idxmax() == "negbin"
    assert table.set_index("model").loc["poisson", "elpd_diff"] < -10
    assert "negbin is better than" in result.reading and "SE" in result.reading
    with pytest.raises(GLMMInputError):
        gb.compare({"only": fits["negbin"]})
    same = gb.compare({"a": fits["negbin"], "b": fits["negbin"]})
    assert "predict identically" in same.reading and "inf" not in same.reading


def test_compare_refuses_models_of_different_outcomes(tmp_path):
    """Same number of rows but another outcome (or the same outcome on other rows): LOO values are not
    comparable, and compare says so instead of ranking them."""
    df = overdispersed(groups=6, per=8)
    df["y2"] = df["y"][::-1].to_numpy()
    kw = dict(draws=50, tune=100, seed=1, **SAMPLE)
    a = gb.GLMM("y ~ x + (1 | g)", df, family="poisson").fit(**kw)
    b = gb.GLMM("y2 ~ x + (1 | g)", df, family="poisson").fit(**kw)
    with pytest.raises(GLMMInputError, match=r"different observations \(outcome values differ\)"):
        gb.compare({"a": a, "b": b})
    # a report of such models still describes each model and says why they are not compared
    from html.parser import HTMLParser

    path = gb.report({"a": a, "b": b}, tmp_path / "r.html")
    text = []
    parser = HTMLParser()
    parser.handle_data = text.append
    parser.feed(path.read_text())
    body = " ".join(text)
    assert "Not compared: models 'a' and 'b' were fitted to different observations" in body
    assert "Model: a" in body and "Model: b" in body


def test_compare_refuses_other_censoring():
    """Same times, other censoring status: log S(t) against log f(t) for the same rows is no comparison."""
    from glmm_bayes.compare import check_same_outcomes

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"t": rng.weibull(1.5, 40) + 0.1, "s": rng.integers(0, 2, 40), "x": rng.normal(size=40)})
    censored = gb.GLMM("censored(t, s) ~ x", df, family="weibull").design
    events = gb.GLMM("censored(t, s) ~ x", df.assign(s=1), family="weibull").design
    with pytest.raises(GLMMInputError, match=r"censoring status differ"):
        check_same_outcomes({"censored": censored, "events": events})
    check_same_outcomes({"a": censored, "b": censored})


def test_reloo_scores_the_integrated_loglik_of_observation_level_effects():
    """With an observation-level effect, loo() integrates it out; reloo must flag and score rows on that
    same log-likelihood (it used the conditional one: 22 refits where loo() flags 1, and another elpd)."""
    df = overdispersed(groups=6, per=8)
    fit = gb.GLMM("y ~ x + (1 | g) + (1 | row)", df, family="poisson").fit(draws=200, tune=300, seed=1, **SAMPLE)
    base = fit.loo()
    flagged = int(np.sum(np.asarray(base.pareto_k) > 0.7))
    result = fit.loo(reloo=True)
    assert result.n_refits == flagged
    if flagged == 0:
        assert float(result.elpd) == pytest.approx(float(base.elpd))
    else:
        assert abs(float(result.elpd) - float(base.elpd)) < 2 * float(base.se)


def test_integrated_loglik_of_olre_matches_monte_carlo():
    """Quadrature over the observation-level effect agrees with brute-force Monte Carlo per draw."""
    from scipy import stats
    from glmm_bayes.predict import integrated_loglik

    df = overdispersed(groups=6, per=5)
    fit = gb.GLMM("y ~ x + (1 | row)", df, family="poisson").fit(draws=20, tune=100, seed=1, **SAMPLE)
    ll = integrated_loglik(fit).reshape(-1, len(df))
    pd_ = fit.parameter_draws()
    b = np.stack([pd_["b_Intercept"].values.ravel(), pd_["b_x"].values.ravel()], axis=1)
    sd = fit.posterior["sd_row"].values.reshape(-1)
    rng = np.random.default_rng(0)
    r = rng.standard_normal(200_000)
    for s in (0, 7, 39):
        for i in (0, 13):
            eta = b[s, 0] + b[s, 1] * df["x"][i]
            mc = np.log(np.mean(stats.poisson.pmf(df["y"][i], np.exp(eta + sd[s] * r))))
            assert ll[s, i] == pytest.approx(mc, abs=0.02)


@pytest.fixture(scope="module")
def outlier_fit():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 12)
    x = rng.normal(size=g.size)
    y = 1 + x + rng.normal(0, 0.8, 8)[g] + rng.normal(0, 1, g.size)
    y[5] += 6  # an outlier: PSIS fails for it (Pareto k about 1.4)
    df = pd.DataFrame({"y": y, "x": x, "g": g})
    return gb.GLMM("y ~ x + (1 | g)", df).fit(draws=500, tune=500, seed=1, **SAMPLE)


def test_reloo_replaces_bad_pareto_k_with_exact_refits(outlier_fit):
    loo = outlier_fit.loo()
    bad = np.flatnonzero(np.asarray(loo.pareto_k) > 0.7)
    assert 5 in bad
    fixed = outlier_fit.loo(reloo=True)
    assert fixed.n_refits == len(bad) and fixed.refit_seconds > 0
    assert not np.any(np.asarray(fixed.pareto_k) > 0.7)
    # brute force: refit without row 5 with another seed, score row 5
    model = outlier_fit.model
    keep = np.setdiff1d(np.arange(model.design.n), [5])
    draws = model.refit(keep, draws=2000, tune=500, chains=2, seed=99)
    ll = model.pointwise_loglik(draws, [5])[..., 0]  # (chain, draw)
    brute = logsumexp(ll) - np.log(ll.size)
    # Monte Carlo SE of a log-mean-exp (delta method with the ESS of the weights); reloo's own
    # estimate used 2 x 500 draws, so its SE is about sqrt(4000 / 1000) times larger
    import arviz as az
    import xarray as xr

    w = np.exp(ll - ll.max())
    ess = float(az.ess(xr.Dataset({"w": (("chain", "draw"), w)}))["w"])
    mcse_brute = w.std() / w.mean() / np.sqrt(ess)
    mcse_reloo = mcse_brute * np.sqrt(ll.size / 1000)
    tolerance = 3 * np.hypot(mcse_brute, mcse_reloo)
    assert abs(np.asarray(fixed.elpd_i)[5] - brute) <= tolerance, (np.asarray(fixed.elpd_i)[5], brute, tolerance)
    assert fixed.elpd < loo.elpd  # PSIS was over-optimistic about the outlier


def test_grouped_kfold_on_a_real_local_cluster(outlier_fit):
    result = outlier_fit.kfold(k=4, group="g", executor="dask", n_workers=2, draws=200)
    assert len(result.by_group) == 8  # one elpd per left-out group
    assert result.by_group["elpd"].sum() == pytest.approx(result.elpd)
    assert np.all(np.isfinite(result.elpd_i))
    # whole groups are left out together
    groups = outlier_fit.model.design.data["g"].to_numpy()
    for level in np.unique(groups):
        assert len(np.unique(result.fold[groups == level])) == 1
    assert os.getpid() not in result.pids  # folds ran in worker processes
    from glmm_bayes.parallel import in_worker_process

    assert not in_worker_process()  # serial refits here run their chains on both cores, the workers' on one
    serial = outlier_fit.kfold(k=4, group="g", executor="serial", draws=200)
    np.testing.assert_allclose(serial.elpd_i, result.elpd_i)  # same seeds, same answer


def test_kfold_bad_arguments(outlier_fit):
    with pytest.raises(GLMMInputError, match="k must be"):
        outlier_fit.kfold(k=50, group="g")
    with pytest.raises(GLMMInputError, match="doctor"):
        outlier_fit.kfold(k=2, group="doctor")


def test_compare_of_kfold_results():
    """k-fold results compare like fits: the true family wins on elpd_kfold, the table's numbers are the
    results' own (elpd, pointwise difference SE), p_kfold is near p_loo, and fits and k-fold results do not mix."""
    df = overdispersed(groups=12, per=15)
    kw = dict(draws=300, tune=300, seed=1, **SAMPLE)
    fits = {"poisson": gb.GLMM("y ~ x + (1 | g)", df, family="poisson").fit(**kw),
            "negbin": gb.GLMM("y ~ x + (1 | g)", df, family="negativebinomial").fit(**kw)}
    results = {name: fit.kfold(k=4, executor="serial", draws=200) for name, fit in fits.items()}
    comparison = gb.compare(results)
    table = comparison.table.set_index("model")
    assert list(comparison.table.columns) == ["model", "elpd_kfold", "se", "elpd_diff", "dse", "p_kfold", "weight"]
    assert table.index[0] == "negbin" and table["weight"].idxmax() == "negbin"
    for name, result in results.items():
        assert table.loc[name, "elpd_kfold"] == pytest.approx(result.elpd)
        assert table.loc[name, "p_kfold"] == pytest.approx(result.p)
        # the same notion as p_loo, another estimator (with whole groups left out it can even be negative)
        assert abs(result.p - fits[name].loo().p) < 0.5 * fits[name].loo().p + 3
    diff = results["poisson"].elpd_i - results["negbin"].elpd_i
    assert table.loc["poisson", "elpd_diff"] == pytest.approx(diff.sum())  # < 0: worse than the best
    assert table.loc["poisson", "dse"] == pytest.approx(np.sqrt(len(diff) * np.var(diff)), rel=1e-6)
    assert "negbin is better than poisson" in comparison.reading
    with pytest.raises(GLMMInputError, match="k-fold results .* and fits"):
        gb.compare({"poisson": results["poisson"], "negbin": fits["negbin"]})
    with pytest.warns(UserWarning, match="other folds"):
        gb.compare({"poisson": results["poisson"],
                    "negbin": fits["negbin"].kfold(k=4, executor="serial", draws=200, seed=9)})
