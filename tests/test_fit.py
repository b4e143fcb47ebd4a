"""Fit results: summary labels and columns, ranef, WAIC, save/load round trip, reproducibility."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError

SAMPLE = dict(draws=200, tune=300, chains=2, progressbar=False, warn=False)


def small_data(seed=3, groups=8, per=15):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), per)
    x = rng.normal(size=g.size)
    u0, u1 = rng.normal(0, 1.0, groups), rng.normal(0, 0.5, groups)
    y = 1 + 0.5 * x + u0[g] + u1[g] * x + rng.normal(0, 0.7, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"s{i}" for i in g], "grp": rng.choice(["a", "b"], g.size)})


@pytest.fixture(scope="module")
def fit():
    return gb.GLMM("y ~ x + grp + (1 + x | g)", small_data()).fit(seed=11, **SAMPLE)


def test_summary_labels_and_columns(fit):
    s = fit.summary()
    assert list(s.index) == ["b_Intercept", "b_x", "b_grp[b]", "sd_g__Intercept", "sd_g__x",
                             "cor_g__Intercept__x", "sigma"]
    assert list(s.columns) == ["mean", "sd", "q2.5", "q97.5", "ess_bulk", "ess_tail", "r_hat", "mcse_mean"]
    assert (s["q2.5"] < s["mean"]).all() and (s["mean"] < s["q97.5"]).all()
    assert s.loc["sd_g__x", "q2.5"] > 0 and -1 <= s.loc["cor_g__Intercept__x", "mean"] <= 1
    s90 = fit.summary(prob=0.9, hdi=True)
    assert {"hdi90_lower", "hdi90_upper"} <= set(s90.columns)
    with pytest.raises(GLMMInputError):
        fit.summary(prob=1.5)


def test_summary_matches_raw_draws(fit):
    draws = fit.posterior["b"].sel(b_coef="x").values.ravel()
    s = fit.summary()
    assert s.loc["b_x", "mean"] == pytest.approx(draws.mean())
    assert s.loc["b_x", "q97.5"] == pytest.approx(np.quantile(draws, 0.975), rel=1e-6)


def test_ranef_is_tidy_and_consistent(fit):
    r = fit.ranef()
    assert list(r.columns[:3]) == ["group", "level", "column"]
    assert len(r) == 8 * 2 and set(r["column"]) == {"Intercept", "x"}
    # the table is the draws of fit.random_effects() summarised (u is checked against PyMC's own
    # graph in test_predict.py::test_conditional_predictions_reproduce_the_likelihood)
    u = fit.random_effects()["g"].values  # chain, draw, level, coef
    np.testing.assert_allclose(r["mean"].to_numpy(), u.mean(axis=(0, 1)).ravel())
    assert (r["q2.5"] < r["mean"]).all() and (r["mean"] < r["q97.5"]).all()


def test_loglik_and_waic_against_direct(fit):
    from scipy import stats

    ll = fit.idata["log_likelihood"]["y"].values
    assert ll.shape == (2, 200, 120)
    # pointwise log-likelihood is the Normal log density at each draw
    post = fit.posterior
    sigma = post["sigma"].values[0, 0]
    direct = stats.norm.logpdf(fit.model.design.response.y[0], loc=_eta0(fit), scale=sigma)
    assert ll[0, 0, 0] == pytest.approx(direct, rel=1e-8)
    w = fit.waic(warn=False)
    flat = ll.reshape(-1, ll.shape[-1])
    lppd = np.log(np.exp(flat).mean(axis=0))
    p = flat.var(axis=0, ddof=1)
    assert w.elpd == pytest.approx((lppd - p).sum())
    assert w.p == pytest.approx(p.sum())
    assert w.se == pytest.approx(np.sqrt(len(p) * np.var(lppd - p)))
    assert abs(w.elpd - fit.loo().elpd) < 5


def _eta0(fit):
    d = fit.model.design
    draws = fit.parameter_draws()
    b = np.array([draws[f"b_{c}"].values[0, 0] for c in d.X_columns])
    u = fit.random_effects()["g"].values[0, 0]
    return d.X[0] @ b + u[d.blocks[0].codes[0]] @ d.blocks[0].Z[0]


def _checksum(tree) -> str:
    h = hashlib.sha256()
    for group in ("posterior", "sample_stats", "log_likelihood", "observed_data"):
        ds = tree[group].to_dataset()
        for name in sorted(ds.data_vars):
            if ds[name].dtype != object:
                h.update(name.encode())
                h.update(np.ascontiguousarray(ds[name].values).tobytes())
    return h.hexdigest()


def test_save_load_round_trip(fit, tmp_path):
    path = fit.save(tmp_path / "fit.nc")
    assert not list(tmp_path.glob("*.tmp")), "the temporary file must be renamed away"
    loaded = gb.load(path)
    assert _checksum(loaded.idata) == _checksum(fit.idata)
    pd.testing.assert_frame_equal(loaded.summary(), fit.summary())
    pd.testing.assert_frame_equal(loaded.ranef(), fit.ranef())
    assert loaded.model.spec == fit.model.spec
    assert loaded.model.design.blocks[0].levels == fit.model.design.blocks[0].levels
    assert loaded.backend == "nutpie"
    assert loaded.environment == fit.environment and "pymc" in loaded.environment
    new = pd.DataFrame({"x": [0.3, -1.0], "grp": ["a", "b"], "g": ["s1", "brand-new"]})
    np.testing.assert_allclose(loaded.predict(new, re="none")["mean"], fit.predict(new, re="none")["mean"])
    np.testing.assert_allclose(loaded.predict(new, re="marginal")["mean"], fit.predict(new, re="marginal")["mean"])


def test_save_load_keeps_categorical_order_and_types(tmp_path):
    """Ordered Categoricals (a predictor whose first category is the reference, and an ordinal outcome),
    and a Categorical of integers, come back from a saved fit as they went in."""
    rng = np.random.default_rng(8)
    n = 90
    d = pd.DataFrame({"x": rng.normal(size=n), "g": pd.Categorical(rng.integers(0, 6, n))})
    d["dose"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"], ordered=True)
    latent = d["x"] + (d["dose"] == "hi") + rng.logistic(size=n)
    d["rating"] = pd.Categorical(np.array(["bad", "ok", "good"])[np.digitize(latent, [-0.5, 1.0])],
                                 categories=["bad", "ok", "good"], ordered=True)
    fit = gb.GLMM("rating ~ x + dose + (1 | g)", d, family="cumulative").fit(draws=60, tune=100, chains=1,
                                                                            seed=2, progressbar=False, warn=False)
    assert "b_dose[hi]" in fit.summary().index and "b_dose[lo]" not in fit.summary().index
    loaded = gb.load(fit.save(tmp_path / "ordered.nc"))
    pd.testing.assert_frame_equal(loaded.summary(), fit.summary())
    data = loaded.model.design.data
    assert list(data["dose"].cat.categories) == ["lo", "mid", "hi"] and data["rating"].cat.ordered
    assert list(data["g"].cat.categories) == list(range(6))
    new = d.iloc[[3, 7]].drop(columns="rating")
    np.testing.assert_allclose(loaded.predict(new, kind="probs")["mean"], fit.predict(new, kind="probs")["mean"])


def test_predictions_keep_the_newdata_index(fit):
    new = pd.DataFrame({"x": [0.3, -1.0, 2.0], "grp": ["a", "b", "a"], "g": ["s1", "s2", "s3"]}, index=[10, 11, 42])
    pred = fit.predict(new)
    assert list(pred.index) == [10, 11, 42]
    np.testing.assert_allclose(pred["mean"], fit.predict(new.reset_index(drop=True))["mean"])
    with pytest.raises(GLMMInputError, match="newdata has no rows"):
        fit.predict(new.iloc[:0])


def test_load_rejects_other_files(tmp_path):
    with pytest.raises(GLMMInputError, match="does not exist"):
        gb.load(tmp_path / "missing.nc")
    bad = tmp_path / "bad.nc"
    bad.write_text("not netcdf")
    with pytest.raises(GLMMInputError):
        gb.load(bad)


@pytest.mark.parametrize("backend", ["nutpie", "pymc", "numpyro"])
def test_same_seed_same_draws(backend):
    model = gb.GLMM("y ~ x + (1 | g)", small_data(seed=5))
    kw = dict(draws=100, tune=100, chains=2, progressbar=False, warn=False, backend=backend)
    a, b, c = model.fit(seed=7, **kw), model.fit(seed=7, **kw), model.fit(seed=8, **kw)
    np.testing.assert_array_equal(a.posterior["b"].values, b.posterior["b"].values)
    assert not np.array_equal(a.posterior["b"].values, c.posterior["b"].values)


def test_graph_and_repr(fit):
    g = fit.model.graph()
    # well-informed levels (15 rows, sigma 0.7): "auto" samples the block centred, as v_g; else z_g
    assert ("v_g" if fit.model.centred_blocks == ["g"] else "z_g") in str(g if isinstance(g, str) else g.source)
    assert "b_x" in repr(fit) and "GLMM" in repr(fit.model)


def test_log_likelihood_left_out_is_computed_when_needed(fit, monkeypatch, tmp_path):
    """Big fits leave the pointwise log-likelihood out; LOO/WAIC/LOO-PIT compute it, to the same values."""
    import glmm_bayes.glmm as glmm_module

    monkeypatch.setattr(glmm_module, "LOGLIK_STORE_MAX", 2 * 200 * 120 - 1)  # one value too many: left out
    lean = fit.model.fit(seed=11, **SAMPLE)
    assert "log_likelihood" not in lean.idata.children and "observed_data" in lean.idata.children
    np.testing.assert_array_equal(lean.posterior["b"].values, fit.posterior["b"].values)  # same seed, same draws
    assert lean.loo().elpd == pytest.approx(fit.loo().elpd, abs=1e-9)
    np.testing.assert_allclose(lean.idata["log_likelihood"]["y"].values, fit.idata["log_likelihood"]["y"].values,
                               atol=1e-10)
    assert lean.waic().elpd == pytest.approx(fit.waic().elpd, abs=1e-9)
    # a saved lean fit loads and computes it again
    again = gb.load(gb.Fit(fit.model, fit.model.fit(seed=11, log_likelihood=False, **SAMPLE).idata,
                           warn=False).save(tmp_path / "lean.nc"))
    assert "log_likelihood" not in again.idata.children
    assert again.loo().elpd == pytest.approx(fit.loo().elpd, abs=1e-9)
    monkeypatch.setattr(glmm_module, "LOGLIK_STORE_MAX", 2 * 200 * 120)  # fits exactly: stored
    assert "log_likelihood" in fit.model.fit(seed=11, **SAMPLE).idata.children


def test_the_log_likelihood_is_computed_when_idata_is_first_read(fit):
    """By default a fit returns without its pointwise log-likelihood and computes it when ``fit.idata`` is
    first read (or by loo/waic/save): the same values as computing it with the draws."""
    lazy = fit.model.fit(seed=11, **SAMPLE)
    eager = fit.model.fit(seed=11, log_likelihood=True, **SAMPLE)
    assert "log_likelihood" not in lazy._idata.children and "log_likelihood" in eager._idata.children
    lazy.summary(), lazy.ranef(), lazy.diagnostics  # noqa: B018 - none of these needs it
    assert "log_likelihood" not in lazy._idata.children
    np.testing.assert_array_equal(lazy.idata["log_likelihood"]["y"].values, eager.idata["log_likelihood"]["y"].values)
    assert lazy.idata["log_likelihood"]["y"].dims == ("chain", "draw", "obs")
