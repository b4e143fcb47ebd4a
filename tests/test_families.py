"""Every registered family: the NumPy functions agree with PyMC, simulate what they claim, and normalise.

These checks need no sampling. Each family's NumPy log-density (used for LOO with integrated
effects, predictions and residuals) is compared with PyMC's own log-probability of the
distribution the model is built from (an independent implementation), including censored
rows through ``pm.Censored``; the NumPy simulator is compared with the family's mean and
variance formulas and with PyMC's random generator; discrete densities sum to one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pymc as pm
import pytest
from scipy import integrate

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.families import FAMILIES, LIKELIHOOD_DATA, LINKS, Response, _censored_rows

# per family: (link, aux values, response generator (rng, n) -> y, extra)
SCORES = np.array([1.0, 2.0, 3.0, 4.0])
AUX = {
    "gaussian": {"sigma": 1.3}, "bernoulli": {}, "binomial": {}, "poisson": {}, "negativebinomial": {"alpha": 2.5},
    "gamma": {"shape": 3.0}, "student_t": {"sigma": 0.9, "nu": 4.5}, "lognormal": {"sigma": 0.6},
    "weibull": {"shape": 1.7}, "exponential": {}, "beta": {"phi": 8.0}, "beta_binomial": {"phi": 4.0},
    "zero_inflated_poisson": {"zi": 0.3}, "zero_inflated_negativebinomial": {"alpha": 2.0, "zi": 0.25},
    "hurdle_poisson": {"hu": 0.35}, "hurdle_negativebinomial": {"alpha": 1.5, "hu": 0.4},
    "cumulative": {"cutpoints": np.array([-1.0, 0.3, 1.8])},
}
TRIALS = np.array([1, 5, 12, 30, 7, 3])
# one linear predictor per row; the categorical family (several) has its own tests at the end
SCALAR = sorted(n for n, f in FAMILIES.items() if not f.nominal)
FAST = "FAST_COMPILE"  # one-off graphs: compiling them for speed would cost more than it saves


def _eta(family: str) -> np.ndarray:
    base = np.array([-0.8, -0.2, 0.0, 0.4, 0.9, 1.3])
    return base if FAMILIES[family].default_link != "log" else base + 0.5


def _extra(family: str):
    fam = FAMILIES[family]
    if fam.needs_trials:
        return TRIALS
    if fam.ordinal:
        return SCORES
    return None


def _sample_y(family: str, rng) -> np.ndarray:
    fam = FAMILIES[family]
    return fam.draw(rng, _eta(family), fam.default_link, AUX[family], _extra(family)).astype(float)


@pytest.mark.parametrize("family", SCALAR)
def test_numpy_loglik_matches_pymc(family):
    fam = FAMILIES[family]
    rng = np.random.default_rng(1)
    eta = _eta(family)
    for _ in range(3):
        y = _sample_y(family, rng)
        mine = fam.loglik(y, eta, fam.default_link, AUX[family], _extra(family))
        extra = _extra(family)
        dist = fam.dist(eta, fam.default_link, {k: np.asarray(v) for k, v in AUX[family].items()},
                        None if extra is None or fam.ordinal else extra)
        observed = fam.observed(Response("y", y, scores=SCORES)) if fam.ordinal else y
        theirs = pm.logp(dist, observed).eval(mode=FAST)
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-8, err_msg=family)


def _direct_and_builtin(formula: str, data, family: str, link: str, attribute: str):
    """The PyMC model with the family's direct log-density (``attribute``: ``direct_logp`` or
    ``censored_terms``) and the same model built on PyMC's own distribution (that attribute emptied)."""
    from pymc.distributions.custom import CustomSymbolicDistRV

    fam = FAMILIES[family]
    direct = gb.GLMM(formula, data, family=family, link=link).pymc_model
    assert isinstance(direct["y"].owner.op, CustomSymbolicDistRV)
    saved = getattr(fam, attribute)
    object.__setattr__(fam, attribute, {})
    try:
        builtin = gb.GLMM(formula, data, family=family, link=link).pymc_model
    finally:
        object.__setattr__(fam, attribute, saved)
    assert not isinstance(builtin["y"].owner.op, CustomSymbolicDistRV)
    return direct, builtin


DIRECT = [(name, link) for name, fam in sorted(FAMILIES.items()) for link in fam.direct_logp]


@pytest.mark.parametrize("family, link", DIRECT)
def test_direct_logp_matches_pymc(family, link):
    """The log-densities written straight from eta (used for sampling) equal PyMC's distributions',
    also far in the tails (|eta| up to 40, where p = sigmoid(eta) rounds to 0 or 1), with and without the
    likelihood data precomputed in NumPy (y_const, y_values / y_value_index)."""
    fam = FAMILIES[family]
    rng = np.random.default_rng(3)
    eta = np.concatenate([rng.normal(0, 2, 200), [-40.0, -20.0, 20.0, 40.0] if link != "log" else [-20.0, 5.0]])
    trials = rng.integers(1, 40, eta.size) if fam.needs_trials else None
    mu = LINKS[link].inverse(eta)
    # positive auxiliary parameters: the test value, a small and a large one (the negative binomial's Poisson
    # limit); probabilities (zi, hu) keep theirs
    for scale in ((1.0, 0.05, 1e4) if fam.discrete else (1.0, 0.2, 5.0)) if fam.aux else (1.0,):
        aux = {k: v * (1.0 if fam.aux_param(k).support == "unit" else scale) for k, v in AUX[family].items()}
        y = fam.simulate(rng, mu, aux, trials)
        y = y.astype("int64") if fam.discrete else y
        given = [*(np.asarray(aux[n]) for n in fam.aux_names), *([] if trials is None else [trials])]
        mine = fam.direct_logp[link](y, eta, *given)
        theirs = pm.logp(fam.dist(eta, link, {k: np.asarray(v) for k, v in aux.items()}, trials), y).eval(mode=FAST)
        # PyMC's hurdle (a truncated mixture) loses ~1e-8 in log(1 - P(0)) as mu -> 0 (eta = -20); the
        # direct form's log1mexp does not (test_hurdle_direct_logp_near_zero_mean)
        rtol = 1e-7 if family.startswith("hurdle") else 1e-9
        np.testing.assert_allclose(mine.eval(mode=FAST), theirs, rtol=rtol, atol=1e-9)
        np.testing.assert_allclose(mine.eval(mode=FAST), fam.loglik(y, eta, link, aux, trials), rtol=1e-6, atol=1e-8)
        data = fam.likelihood_data(link, y, trials)  # computed once per data set in the model (pm.Data)
        assert list(data) == [k for k in LIKELIHOOD_DATA if k in data]
        if data:
            with_data = fam.direct_logp[link](y, eta, *given, *data.values())
            np.testing.assert_allclose(with_data.eval(mode=FAST), theirs, rtol=rtol, atol=1e-9)


def test_hurdle_direct_logp_near_zero_mean():
    """At mu = e^-20 a positive count has log p = log(1 - hu) + log Poisson(1 | mu) - log(1 - e^-mu), which
    is log(1 - hu) - mu/2 + O(mu^2): the direct log-density keeps it to 1e-13 (PyMC's hurdle: 4e-8)."""
    hu, eta = 0.35, np.array([-20.0, -30.0])
    mu = np.exp(eta)
    exact = np.log1p(-hu) + eta - mu - np.log(-np.expm1(-mu))
    mine = FAMILIES["hurdle_poisson"].direct_logp["log"](np.array([1, 1]), eta, np.asarray(hu)).eval(mode=FAST)
    np.testing.assert_allclose(mine, exact, rtol=1e-13)
    np.testing.assert_allclose(mine, np.log1p(-hu) - mu / 2, rtol=1e-13)


@pytest.mark.parametrize("family, link", DIRECT)
def test_model_uses_direct_logp_with_pymc_values(family, link):
    """A model of such a family registers the direct likelihood; its log-density (and gradient) at a
    random point equal those of the same model with PyMC's built-in distribution."""
    rng = np.random.default_rng(4)
    n = 60
    data = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 6, n).astype(str)})
    fam = FAMILIES[family]
    data["k"] = rng.integers(1, 9, n)
    data["y"] = fam.simulate(rng, np.full(n, 0.4 if link != "log" else 2.0), AUX[family], data["k"].to_numpy())
    formula = ("p(y, k)" if fam.needs_trials else "y") + " ~ x + (1 + x | g)"
    direct, builtin = _direct_and_builtin(formula, data, family, link, "direct_logp")
    # the likelihood data (log y!, log C(n, y), distinct counts) are data containers, computed once
    expected = fam.direct_data[link](data["y"].to_numpy(float), data["k"].to_numpy(float)) if link in fam.direct_data \
        else {}
    for name in LIKELIHOOD_DATA:
        assert (name in direct.named_vars) == (name in expected)
        if name in expected:
            np.testing.assert_allclose(direct[name].get_value(), expected[name], rtol=1e-12)
    point = {k: v + rng.normal(0, 0.5, np.shape(v)) for k, v in direct.initial_point().items()}
    for a, b in [(direct.compile_logp(mode=FAST), builtin.compile_logp(mode=FAST)),
                 (direct.compile_dlogp(mode=FAST), builtin.compile_dlogp(mode=FAST))]:
        np.testing.assert_allclose(a(point), b(point), rtol=1e-9)


@pytest.mark.parametrize("family", sorted(n for n, f in FAMILIES.items() if f.censorable))
def test_censored_loglik_matches_pymc_censored(family):
    """Right-censored rows contribute log S(t), left-censored log F(t), events log f(t)."""
    fam = FAMILIES[family]
    rng = np.random.default_rng(2)
    eta = _eta(family)
    y = _sample_y(family, rng)
    status = np.array([1, 0, 0, 1, -1, 0])
    mine = fam.loglik(y, eta, fam.default_link, AUX[family], status)
    dist = fam.dist(eta, fam.default_link, {k: np.asarray(v) for k, v in AUX[family].items()}, None)
    lower = np.where(status == -1, y, -np.inf)
    upper = np.where(status == 0, y, np.inf)
    theirs = pm.logp(pm.Censored.dist(dist, lower=lower, upper=upper), y).eval(mode=FAST)
    np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-8)
    # and the censored rows really differ from the density (the test can fail)
    assert np.all(np.abs(mine[status != 1] - fam.logpdf(y, LINKS[fam.default_link].inverse(eta),
                                                         AUX[family], None)[status != 1]) > 1e-6)


# the censored terms written by hand (PyMC's log(1 - F) is -inf far in their right tail)
CENSORED_DIRECT = [("exponential", "log"), ("gamma", "log"), ("weibull", "log")]
CENSORED_ALL = [(name, link) for name, fam in sorted(FAMILIES.items()) for link in fam.censored_terms]


def _status_rows(status: np.ndarray) -> tuple[np.ndarray, ...]:
    """The event, right- and left-censored rows (the builder's ``cens_*_index`` data)."""
    return tuple(np.flatnonzero(status == s) for s in (1, 0, -1))


def test_every_censorable_family_and_link_has_censored_terms():
    assert CENSORED_ALL and {name for name, _ in CENSORED_ALL} == {n for n, f in FAMILIES.items() if f.censorable}
    for name, link in CENSORED_ALL:
        assert set(FAMILIES[name].censored_terms) == set(FAMILIES[name].links)


@pytest.mark.parametrize("family, link", CENSORED_DIRECT)
def test_censored_direct_logp_matches_pymc_and_stays_finite(family, link):
    """The censored log-likelihood used for sampling equals PyMC's ``Censored`` wherever that is finite,
    equals the NumPy log S / log F everywhere, and stays finite far in the right tail, where PyMC's
    log(1 - F) is -inf (F rounds to 1) and one such row made the whole model's log-density -inf."""
    fam = FAMILIES[family]
    rng = np.random.default_rng(5)
    n = 200
    eta, aux = rng.normal(0, 1, n), AUX[family]
    mu = LINKS[link].inverse(eta)
    t = fam.simulate(rng, mu, aux, None)
    t[:4] = mu[:4] * np.array([30.0, 800.0, 1e-3, 1e-6])  # far right tail, far left tail
    status = rng.choice([1, 0, -1], n)
    status[:2], status[2:4] = 0, -1
    lower, upper = np.where(status == -1, t, -np.inf), np.where(status == 0, t, np.inf)
    mine = _censored_rows(fam.censored_terms[link], t, eta, tuple(aux.values()), *_status_rows(status)).eval(mode=FAST)
    dist = fam.dist(eta, link, {k: np.asarray(v) for k, v in aux.items()}, None)
    theirs = pm.logp(pm.Censored.dist(dist, lower=lower, upper=upper), t).eval(mode=FAST)
    finite = np.isfinite(theirs)
    assert not finite[1], "PyMC's censored log-survival far in the tail was expected to be -inf"
    np.testing.assert_allclose(mine[finite], theirs[finite], rtol=1e-5, atol=1e-8)  # PyMC's gamma CDF: ~1e-6
    np.testing.assert_allclose(mine, fam.loglik(t, eta, link, aux, status), rtol=1e-5)
    assert np.all(np.isfinite(mine))


@pytest.mark.parametrize("family, link", CENSORED_ALL)
def test_censored_model_logp_equals_pymc_censored_model(family, link):
    """A censored model's likelihood evaluates each status's term on its own rows; at random points its
    log-density equals that of the same model built on ``pm.Censored`` (a ``switch`` over all three terms on
    every row), where that one is finite, and its gradient equals central finite differences of it (PyMC's
    own gradient is no reference there: its gamma log(1 − P) loses digits in shape in the right tail, 3e-6
    relative at Q(2.5, 30) against 4e-10 for the gammaincc gradient used here)."""
    rng = np.random.default_rng(6)
    n = 80
    data = pd.DataFrame({"x": rng.normal(size=n), "g": rng.integers(0, 8, n).astype(str)})
    # positive, a mean under every link; under the inverse link η = 1 / μ near 1 (random points below with
    # η < 0 somewhere are -inf in both models: about 3 in 4)
    mu = np.exp((0.0 if link == "inverse" else 3.0) + 0.5 * data["x"].to_numpy())
    data["time"] = FAMILIES[family].simulate(rng, mu, AUX[family], None)
    data["status"] = rng.choice([1, 0, -1], n, p=[0.6, 0.3, 0.1])
    formula = "censored(time, status) ~ x + (1 | g)"
    direct, builtin = _direct_and_builtin(formula, data, family, link, "censored_terms")
    ours, theirs = direct.logp_dlogp_function(ravel_inputs=True), builtin.compile_logp(mode=FAST)
    ours.set_extra_values({})
    compared = 0
    for _ in range(24):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in direct.initial_point().items()}
        x = np.concatenate([np.ravel(point[v.name]) for v in ours._grad_vars])
        logp, grad = ours(x)
        if not np.isfinite(theirs(point)):  # PyMC's log(1 - F) rounded to -inf (or a mean < 0 under
            if (family, link) in CENSORED_DIRECT:  # the inverse link); the hand-written terms stay finite
                assert np.isfinite(logp) and np.all(np.isfinite(grad))
            continue
        compared += 1
        np.testing.assert_allclose(logp, theirs(point), rtol=1e-6)
        h = 1e-5 * np.maximum(1.0, np.abs(x))
        numeric = [(ours(x + h[i] * e)[0] - ours(x - h[i] * e)[0]) / (2 * h[i]) for i, e in enumerate(np.eye(len(x)))]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5)
    assert compared >= 3


@pytest.mark.parametrize("family", SCALAR)
def test_simulation_matches_mean_and_variance(family):
    fam = FAMILIES[family]
    rng = np.random.default_rng(3)
    eta = np.repeat(_eta(family)[None, :], 40_000, axis=0)
    extra = _extra(family)
    aux = {k: np.asarray(v) for k, v in AUX[family].items()}
    y = fam.draw(rng, eta, fam.default_link, aux, extra)
    mean = fam.response_mean(eta[0], fam.default_link, aux, extra)
    var = fam.response_variance(eta[0], fam.default_link, aux, extra)
    se = np.sqrt(var / len(y))
    assert np.all(np.abs(y.mean(axis=0) - mean) < 5 * se + 1e-9), (y.mean(axis=0), mean)
    np.testing.assert_allclose(y.var(axis=0), var, rtol=0.1)


@pytest.mark.parametrize("family", sorted(set(SCALAR) - {"cumulative"}))
def test_numpy_simulator_agrees_with_pymc_random(family):
    """Same distribution from two generators: compare means of 20,000 draws per row.

    (PyMC draws truncated counts for the hurdle families by slow rejection: 1,500 draws there.)
    """
    fam = FAMILIES[family]
    eta = _eta(family)
    extra = _extra(family)
    aux = {k: np.asarray(v) for k, v in AUX[family].items()}
    n = 1_500 if family.startswith("hurdle") else 20_000
    ours = fam.draw(np.random.default_rng(4), np.repeat(eta[None], 20_000, axis=0), fam.default_link, aux, extra)
    dist = fam.dist(eta, fam.default_link, aux, extra)
    theirs = pm.draw(dist, draws=n, random_seed=5, mode=FAST)
    se = np.sqrt(fam.response_variance(eta, fam.default_link, aux, extra) * (1 / 20_000 + 1 / n))
    assert np.all(np.abs(ours.mean(axis=0) - theirs.mean(axis=0)) < 5 * se), (ours.mean(0), theirs.mean(0))


@pytest.mark.parametrize("family", sorted(n for n in SCALAR if FAMILIES[n].discrete and not FAMILIES[n].ordinal))
def test_discrete_densities_sum_to_one(family):
    fam = FAMILIES[family]
    mu = LINKS[fam.default_link].inverse(_eta(family))
    support = np.arange(0, 400)[:, None]
    extra = _extra(family)
    total = np.exp(fam.logpdf(support, mu[None, :], AUX[family], extra)).sum(axis=0)
    np.testing.assert_allclose(total, 1.0, atol=1e-8)


@pytest.mark.parametrize("family", sorted(n for n, f in FAMILIES.items() if not f.discrete))
def test_continuous_densities_integrate_to_one(family):
    fam = FAMILIES[family]
    mu = float(LINKS[fam.default_link].inverse(np.array(0.3)))
    lo, hi = (0, 1) if family == "beta" else (0, np.inf) if family in ("gamma", "lognormal", "weibull",
                                                                       "exponential") else (-np.inf, np.inf)
    value, _ = integrate.quad(lambda t: np.exp(fam.logpdf(np.array(t), mu, AUX[family], None)), lo, hi, limit=200)
    assert value == pytest.approx(1.0, abs=1e-6)


def test_ordinal_category_probabilities():
    fam = FAMILIES["cumulative"]
    aux = {"cutpoints": np.array([-1.0, 0.3, 1.8])}
    probs = fam.category_probs(np.array([0.0, 2.0]), "logit", aux)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)
    expit = 1 / (1 + np.exp(-(np.array([-1.0, 0.3, 1.8]))))
    np.testing.assert_allclose(probs[0], np.diff(np.r_[0, expit, 1]))
    assert probs[1, -1] > probs[0, -1]  # a larger eta shifts mass to the top category
    # population-averaged probabilities equal a Monte Carlo average over the random effect
    rng = np.random.default_rng(0)
    r = rng.normal(0, 1.5, size=400_000)
    mc = fam.category_probs(0.4 + r, "probit", aux).mean(axis=0)
    gh = fam.category_probs(np.array([0.4]), "probit", aux, variance=np.array([1.5 ** 2]))[0]
    np.testing.assert_allclose(gh, mc, atol=3e-3)
    # probit closed form: P(y <= k) = Phi((c_k - eta) / sqrt(1 + v))
    from scipy.stats import norm

    np.testing.assert_allclose(np.cumsum(gh)[:-1], norm.cdf((aux["cutpoints"] - 0.4) / np.sqrt(1 + 1.5 ** 2)),
                               atol=1e-6)


# ---------------------------------------------------------------- categorical (η with K-1 columns)
CAT_ETA = np.array([[0.0, 0.0], [1.2, -0.5], [-2.0, 0.7], [0.3, 2.5], [-0.4, -1.1]])


def test_categorical_loglik_matches_pymc_and_probabilities_are_softmax():
    fam = FAMILIES["categorical"]
    y = np.array([0, 1, 2, 2, 1])
    mine = fam.loglik(y, CAT_ETA, "logit", {})
    theirs = pm.logp(fam.dist(CAT_ETA, "logit", {}, None), y).eval(mode=FAST)
    np.testing.assert_allclose(mine, theirs, rtol=1e-6)
    probs = fam.category_probs(CAT_ETA, "logit", {})
    full = np.exp(np.c_[np.zeros(5), CAT_ETA])
    np.testing.assert_allclose(probs, full / full.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(np.exp(mine), probs[np.arange(5), y])


def test_categorical_simulator_frequencies_match_probabilities_and_pymc():
    fam = FAMILIES["categorical"]
    eta = np.repeat(CAT_ETA[None], 40_000, axis=0)
    ours = fam.draw(np.random.default_rng(1), eta, "logit", {})
    theirs = pm.draw(fam.dist(CAT_ETA, "logit", {}, None), draws=40_000, random_seed=2, mode=FAST)
    probs = fam.category_probs(CAT_ETA, "logit", {})
    se = np.sqrt(probs * (1 - probs) / 40_000)
    for draws in (ours, theirs):
        freq = (draws[..., None] == np.arange(3)).mean(axis=0)
        assert np.all(np.abs(freq - probs) < 5 * se + 1e-9), (freq, probs)


def test_categorical_population_average_matches_monte_carlo():
    """Averaging the softmax over correlated category effects (quasi-Monte Carlo) vs plain Monte Carlo."""
    fam = FAMILIES["categorical"]
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    eta = np.array([[0.5, -0.3]])
    qmc = fam.category_probs(eta, "logit", {}, variance=cov[None])[0]
    r = np.random.default_rng(3).multivariate_normal([0, 0], cov, size=400_000)
    mc = fam.category_probs(eta + r, "logit", {}).mean(axis=0)
    np.testing.assert_allclose(qmc, mc, atol=3e-3)
    assert abs(qmc - fam.category_probs(eta, "logit", {})[0]).max() > 0.02  # not the typical-group value


def test_weibull_survival_and_population_average():
    fam = FAMILIES["weibull"]
    aux = {"shape": np.array(1.5)}
    t = np.array([5.0, 20.0])
    s = fam.survival(t, np.log(np.array([10.0, 10.0])), "log", aux)
    np.testing.assert_allclose(s, np.exp(-(t / 10.0) ** 1.5))
    from glmm_bayes.families import gh_expectation

    rng = np.random.default_rng(1)
    r = rng.normal(0, 0.8, size=400_000)
    mc = fam.survival(np.full_like(r, 20.0), np.log(10.0) + r, "log", aux).mean()
    gh = gh_expectation(lambda e: fam.survival(np.full_like(e, 20.0), e, "log", aux), np.array(np.log(10.0)),
                        np.array(0.64))
    assert float(gh) == pytest.approx(mc, abs=3e-3)


# ---------------------------------------------------------------- bad input for the new families
def _frame(**cols) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"x": np.linspace(-1, 1, n), "g": [f"g{i % 3}" for i in range(n)]}
    return pd.DataFrame({**base, **cols})


@pytest.mark.parametrize("ratings, fragment", [
    ([1, 2, 4, 5, 1, 2, 4, 5], "no observations of 3"),
    ([1.5, 2, 3, 1, 2, 3, 1, 2], "whole-number"),
    (["low", "high", "mid", "low", "mid", "high", "low", "mid"], "ordered pandas Categorical"),
])
def test_ordinal_response_errors(ratings, fragment):
    with pytest.raises(GLMMInputError, match=fragment):
        gb.GLMM("r ~ x + (1 | g)", _frame(r=ratings), family="cumulative")


def test_ordinal_unused_category_is_an_error():
    r = pd.Categorical(["low", "mid", "low", "mid", "low", "mid"], categories=["low", "mid", "high"], ordered=True)
    with pytest.raises(GLMMInputError, match="no observations: high"):
        gb.GLMM("r ~ x + (1 | g)", _frame(r=r), family="cumulative")


def test_ordinal_ordered_categorical_and_no_intercept():
    r = pd.Categorical(["low", "mid", "high", "low", "high", "mid"], categories=["low", "mid", "high"], ordered=True)
    m = gb.GLMM("r ~ x + (1 | g)", _frame(r=r), family="cumulative")
    assert m.design.X_columns == ["x"] and m.design.response.levels == ["low", "mid", "high"]
    labels = [p for p in m.priors["param"]]
    assert "cutpoints" in labels and "b_Intercept" not in labels
    with pytest.raises(GLMMInputError, match="no intercept"):
        gb.GLMM("r ~ 0 + x + (1 | g)", _frame(r=r), family="cumulative")


@pytest.mark.parametrize("status, time, fragment", [
    ([1, 2, 1, 2, 1, 2], [1, 2, 3, 4, 5, 6], "must be 1 \\(event observed\\) or 0"),
    ([1, 0, 1, 0, 1, 0], [1, 0, 3, 4, 5, 6], "strictly positive time"),
    ([1, 0, 1, 0, 1, 0], [1, -2, 3, 4, 5, 6], "survival time must be > 0"),
])
def test_censoring_errors(status, time, fragment):
    with pytest.raises(GLMMInputError, match=fragment):
        gb.GLMM("censored(t, s) ~ x + (1 | g)", _frame(t=time, s=status), family="weibull")


def test_censoring_needs_a_survival_family():
    with pytest.raises(GLMMInputError, match="weibull"):
        gb.GLMM("censored(t, s) ~ x", _frame(t=[1.0, 2, 3, 4], s=[1, 0, 1, 1]), family="poisson")


def test_beta_outcome_must_be_inside_the_unit_interval():
    with pytest.raises(GLMMInputError, match="strictly between 0 and 1"):
        gb.GLMM("y ~ x", _frame(y=[0.2, 0.5, 1.0, 0.3]), family="beta")


def test_zero_inflation_prior_needs_unit_support():
    df = _frame(y=[0, 1, 0, 3, 2, 0])
    with pytest.raises(GLMMInputError, match="zi"):
        gb.GLMM("y ~ x", df, family="zero_inflated_poisson", priors={"zi": "normal(0, 1)"})
    m = gb.GLMM("y ~ x", df, family="zero_inflated_poisson", priors={"zi": "uniform(0, 1)"})
    assert str(m.prior_set.aux["zi"]) == "uniform(0, 1)"
