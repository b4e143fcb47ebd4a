"""Censored gamma rows far in either tail keep a finite log-likelihood and gradient.

Q(a, x) (and so scipy's ``gamma.logsf``) underflows to 0 from x ≈ 745; a right-censored row that far
beyond its mean made the whole log-density -inf with a NaN gradient. The references here are closed
forms (integer shape: Q(1, x) = e^−x, Q(2, x) = (1 + x)·e^−x; P(1, x) = 1 − e^−x) and scipy where it
does not underflow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as pt
import pytest
from scipy import special, stats

import glmm_bayes as gb
from glmm_bayes.families import _log_gamma_tails, get_family


@pytest.mark.parametrize("xp_name", ["numpy", "pytensor"])
def test_log_tails_match_closed_forms_beyond_underflow(xp_name):
    x = np.array([1.0, 50.0, 700.0, 746.0, 800.0, 1e4])
    if xp_name == "numpy":
        q1, p1 = _log_gamma_tails(np, 1.0, x)
        q2, _ = _log_gamma_tails(np, 2.0, x)
    else:
        X = pt.dvector("x")
        f = pytensor.function([X], [*_log_gamma_tails(pt, 1.0, X), _log_gamma_tails(pt, 2.0, X)[0]])
        q1, p1, q2 = f(x)
    np.testing.assert_allclose(q1, -x, rtol=1e-13)
    np.testing.assert_allclose(q2, np.log1p(x) - x, rtol=1e-13)
    np.testing.assert_allclose(p1, np.log(-np.expm1(-x)), rtol=1e-12, atol=1e-300)


def test_series_agrees_with_scipy_where_both_are_finite_and_is_continuous():
    for a in (0.3, 2.5, 8.0):
        x = np.linspace(400.0, 700.0, 7)
        np.testing.assert_allclose(_log_gamma_tails(np, a, x)[0], stats.gamma.logsf(x, a), rtol=1e-12)
        # across the switch to the series (Q < 1e-300) the log survival keeps falling smoothly
        grid = np.linspace(650.0, 800.0, 3001)
        log_q = _log_gamma_tails(np, a, grid)[0]
        steps = np.diff(log_q)
        assert np.all(np.isfinite(log_q)) and np.all(steps < 0)
        assert np.max(np.abs(np.diff(steps))) < 1e-6  # no jump where the branch changes
    small = np.array([1e-3, 1e-100])
    np.testing.assert_allclose(_log_gamma_tails(np, 2.5, small)[1], stats.gamma.logcdf(small, 2.5), rtol=1e-12)
    tiny = np.array([1e-150, 1e-320])  # scipy's gamma.logcdf: -inf at both for a = 2.5
    np.testing.assert_allclose(_log_gamma_tails(np, 1.0, tiny)[1], np.log(tiny), rtol=1e-12)  # P(1, x) ≈ x
    np.testing.assert_allclose(_log_gamma_tails(np, 2.5, tiny)[1],
                               2.5 * np.log(tiny) - special.gammaln(3.5), rtol=1e-12)  # x^a / Γ(a + 1)


def test_gradient_is_finite_where_the_survival_underflows():
    a, x = pt.dscalar("a"), pt.dscalar("x")
    log_q = _log_gamma_tails(pt, a, x)[0]
    f = pytensor.function([a, x], pt.grad(log_q, [a, x]))
    d_a, d_x = f(2.0, 800.0)
    # d/da log Q = log x − ψ(a) + O(1/x); d/dx log Q = (a − 1)/x − 1 + O(1/x²)
    assert d_a == pytest.approx(np.log(800.0) - special.digamma(2.0), abs=2e-3)
    assert d_x == pytest.approx(1.0 / 800.0 - 1.0, abs=1e-5)


def test_model_density_and_pointwise_loglik_stay_finite_for_a_far_censored_row():
    # the last row is right-censored at 5000; at b = -8 its mean is e^-8, so rate·t = 2·5000·e^8 ≈ 3e7
    data = pd.DataFrame({"t": [1.0, 2.0, 0.5, 1.5, 5000.0], "event": [1, 1, 1, 1, 0], "g": [0, 1, 0, 1, 1]})
    model = gb.GLMM("censored(t, event) ~ 1 + (1 | g)", data, family="gamma")
    point = model.sampling_model.initial_point()
    point["b"] = np.full_like(point["b"], -8.0)
    point["shape_log__"] = np.log(2.0)
    logp = model.sampling_model.compile_logp()(point)
    grad = model.sampling_model.compile_dlogp()(point)
    assert np.isfinite(logp) and np.isfinite(grad).all()
    status = data["event"].to_numpy()
    eta = np.full(len(data), -8.0)
    ll = get_family("gamma").loglik(data["t"].to_numpy(), eta, "log", {"shape": 2.0}, status)
    # log Q(2, x) = log(1 + x) − x at x = 2·5000·e^8
    x = 2.0 * 5000.0 * np.exp(8.0)
    assert ll[-1] == pytest.approx(np.log1p(x) - x, rel=1e-12)


def test_family_survival_and_cdf_pick_their_own_tail():
    """The gamma family's NumPy logsf / logcdf (pointwise log-likelihood of censored rows) each
    compute one tail: log S against scipy's gamma.logsf, log F against gamma.logcdf."""
    family, shape, mu = get_family("gamma"), 2.5, 3.0
    y = np.array([0.01, 1.0, 5.0, 40.0])
    aux = {"shape": shape}
    scipy_args = dict(a=shape, scale=mu / shape)
    # atol: near S = 1, log S ≈ -2e-6 comes from log(Q) (scipy: log1p(-P)), equal to ~1e-17
    close = dict(rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(family.logsf(y, mu, aux), stats.gamma.logsf(y, **scipy_args), **close)
    np.testing.assert_allclose(family.logcdf(y, mu, aux), stats.gamma.logcdf(y, **scipy_args), **close)
