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


def test_specific_key_beats_general():
    m = gb.GLMM("y ~ x + (1 | g)", _data(), priors={"b": "normal(0, 9)", "b_x": "normal(0, 1)",
                                                    "sd": "half_normal(9)", "sd_g": "half_normal(1)"})
    assert str(m.prior_set.fixed["x"]) == "normal(0, 1)"
    assert str(m.prior_set.sd["g"]) == "half_normal(1)"


def test_mixed_prior_families_build():
    m = gb.GLMM("y ~ x + (1 | g)", _data(), priors={"b_x": "student_t(3, 0, 1)"})
    names = {v.name for v in m.pymc_model.free_RVs}
    assert {"b__normal", "b__student_t"} <= names
