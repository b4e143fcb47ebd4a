"""Prior strings (grammar, no eval) and the data-scaled default rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.priors import Prior


@pytest.mark.parametrize("text,dist,args", [
    ("normal(0, 2.5)", "normal", (0.0, 2.5)),
    ("  half_normal( 3 )", "half_normal", (3.0,)),
    ("student_t(3, 0, 1e1)", "student_t", (3.0, 0.0, 10.0)),
    ("lkj(2)", "lkj", (2.0,)),
    ("HalfCauchy(1)", "half_cauchy", (1.0,)),
    ("normal(-.5, .25)", "normal", (-0.5, 0.25)),
])
def test_parse(text, dist, args):
    p = Prior.parse(text)
    assert (p.dist, p.args) == (dist, args)
    assert Prior.parse(str(p)) == p


@pytest.mark.parametrize("text", ["normal(0,", "normal(0, -1)", "foo(1)", "normal(0)", "normal(a, 1)",
                                  "__import__('os')", "normal(0, 1); x", "uniform(2, 1)"])
def test_malformed(text):
    with pytest.raises(GLMMInputError):
        Prior.parse(text, "b")


def _data(scale=1.0, n=200, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(10, 4, size=n)
    return pd.DataFrame({"y": 3 + 2 * x + rng.normal(0, 5, size=n), "x": x * scale,
                         "g": rng.integers(0, 8, size=n)})


def test_default_rule_scales_with_data():
    """Slope prior sd = 2.5 sd(y) / sd(x): rescaling x by 1000 shrinks it by 1000."""
    m1 = gb.GLMM("y ~ x + (1 | g)", _data())
    m2 = gb.GLMM("y ~ x + (1 | g)", _data(scale=1000.0))
    s1, s2 = m1.prior_set.fixed["x"].args[1], m2.prior_set.fixed["x"].args[1]
    assert s1 / s2 == pytest.approx(1000, rel=1e-2)
    df = _data()
    assert s1 == pytest.approx(2.5 * df["y"].std(ddof=0) / df["x"].std(ddof=0), rel=1e-2)
    sigma = m1.prior_set.aux["sigma"]
    assert sigma.dist == "exponential" and sigma.args[0] == pytest.approx(1 / df["y"].std(ddof=0), rel=1e-2)
    icpt = m1.prior_set.fixed["Intercept"]
    assert icpt.args[0] == pytest.approx(df["y"].mean(), rel=1e-2)
    spread = np.sqrt(1 + (df["x"].mean() / df["x"].std(ddof=0)) ** 2)
    assert icpt.args[1] == pytest.approx(2.5 * df["y"].std(ddof=0) * spread, rel=1e-2)


def test_prior_table_and_keys():
    m = gb.GLMM("y ~ x + (1 + x | g)", _data(), priors={"b_x": "normal(0, 1)", "sd": "half_normal(2)",
                                                        "cor_g": "lkj(4)"})
    table = m.priors.set_index("param")
    assert table.loc["b_x", "prior"] == "normal(0, 1)" and table.loc["b_x", "source"] == "user"
    assert table.loc["sd_g", "prior"] == "half_normal(2)"
    assert table.loc["cor_g", "prior"] == "lkj(4)"
    assert table.loc["b_Intercept", "source"] == "default"
    assert set(table.index) == {"b_Intercept", "b_x", "sd_g", "cor_g", "sigma"}


def test_prior_keys_ignore_spacing_and_refuse_missing_correlations():
    d = _data()
    m = gb.GLMM("y ~ I(x**2) + (1 | g)", d, priors={"b_I(x**2)": "normal(0, 1)"})
    assert m.priors.set_index("param").loc["b_I(x ** 2)", "prior"] == "normal(0, 1)"
    with pytest.raises(GLMMInputError, match="'cor_g' sets the correlations of the 'g' effects, but they have none"):
        gb.GLMM("y ~ x + (x || g)", d, priors={"cor_g": "lkj(2)"})
    gb.GLMM("y ~ x + (1 | g)", d, priors={"cor": "lkj(2)"})  # class-level keys apply where there is something


def test_specific_key_beats_general():
    m = gb.GLMM("y ~ x + (1 | g)", _data(), priors={"b": "normal(0, 9)", "b_x": "normal(0, 1)",
                                                    "sd": "half_normal(9)", "sd_g": "half_normal(1)"})
    assert str(m.prior_set.fixed["x"]) == "normal(0, 1)"
    assert str(m.prior_set.sd["g"]) == "half_normal(1)"


def test_mixed_prior_families_build():
    df = _data().assign(z=lambda d: d["x"] ** 2)
    m = gb.GLMM("y ~ x + z + (1 | g)", df, priors={"b_x": "student_t(3, 0, 1)"})
    names = {v.name for v in m.pymc_model.free_RVs + m.pymc_model.deterministics}
    assert {"b__normal", "b__student_t", "Intercept_c", "Intercept"} <= names


def test_centred_intercept_keeps_the_raw_intercept_prior():
    """Forward draws of the raw Intercept follow its prior, independently of the slopes."""
    import pymc as pm
    from scipy import stats

    m = gb.GLMM("y ~ x + (1 | g)", _data(), priors={"Intercept": "normal(3, 2)", "b": "normal(0, 5)"})
    with m.pymc_model:
        prior = pm.sample_prior_predictive(draws=4000, random_seed=1)["prior"]
    raw = prior["Intercept"].values.ravel()
    assert stats.kstest(raw, stats.norm(3, 2).cdf).pvalue > 0.01
    assert abs(np.corrcoef(raw, prior["b"].values.reshape(-1))[0, 1]) < 0.05


def test_centring_gives_the_same_posterior_as_the_raw_parameterisation():
    """Density check: the centred and standardised parameterisation has the raw model's log density
    at mapped points, up to the constant Jacobian of the scaling (so differences must agree)."""
    import pymc as pm

    df = _data()
    priors = {"Intercept": "normal(3, 20)", "b": "normal(0, 5)"}
    m = gb.GLMM("y ~ x", df, priors=priors)
    xbar = df["x"].mean()
    with pm.Model() as raw:
        b0 = pm.Normal("b0", 3, 20)
        b1 = pm.Normal("b1", 0, 5)
        sigma = pm.Exponential("sigma", m.prior_set.aux["sigma"].args[0])
        pm.Normal("y", b0 + b1 * df["x"].to_numpy(), sigma, observed=df["y"].to_numpy())
    lp_c = m.pymc_model.compile_logp()
    lp_raw = raw.compile_logp()
    sd = df["x"].std(ddof=0)
    values = []
    for b0v, b1v, s in [(1.0, 2.0, 5.0), (4.0, 1.5, 3.0), (-2.0, 2.2, 4.0)]:
        centred_point = {"Intercept_c": b0v + b1v * xbar, "b_z": np.array([b1v * sd]), "sigma_log__": np.log(s)}
        raw_point = {"b0": b0v, "b1": b1v, "sigma_log__": np.log(s)}
        values.append((lp_c(centred_point), lp_raw(raw_point)))
    diffs = [(a - values[0][0], b - values[0][1]) for a, b in values[1:]]
    for d_c, d_raw in diffs:
        assert d_c == pytest.approx(d_raw, rel=1e-9)
