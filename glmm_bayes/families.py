"""The family registry: one entry per response distribution.

Each :class:`Family` knows its allowed links (the first is the default), its
auxiliary parameters with default priors, how to check a response, its PyMC
distribution, and NumPy versions of its response-scale mean, variance,
log-density, (for censoring) log-CDF and log-survival, and simulator.
Everything downstream calls the link-aware methods
(:meth:`Family.response_mean`, :meth:`Family.draw`, :meth:`Family.loglik`,
:meth:`Family.response_variance`); a family whose mean is not a function of
``g⁻¹(η)`` alone (ordinal) overrides them. Adding a family means adding one
entry to :data:`FAMILIES`.

Parameterisations (DESIGN.md §2): gaussian ``y ~ Normal(mu, sigma)``;
bernoulli/binomial ``P = g^-1(eta)``; poisson mean ``exp(eta)``; negative
binomial mean ``mu``, variance ``mu + mu^2 / alpha``; gamma mean ``mu`` with
``shape`` (rate ``shape / mu``); student_t ``Normal`` → ``StudentT(nu, mu, sigma)``;
lognormal ``log y ~ Normal(eta, sigma)``; beta mean ``mu``, precision ``phi``
(``Beta(mu·phi, (1-mu)·phi)``); beta_binomial the same with trials;
zero-inflated: ``P(structural zero) = zi``; hurdle: ``P(y = 0) = hu``, positive
counts from the zero-truncated count distribution; cumulative ordinal
``P(y ≤ k) = F(cutpoint[k] − eta)`` with no intercept; survival AFT (survreg convention)
weibull ``T ~ Weibull(shape, scale = exp(eta))``, exponential mean ``exp(eta)``,
lognormal as above. Censored rows (``censored(time, status)``: 1 event, 0
right-censored, -1 left-censored) contribute ``log S(t)`` (or ``log F(t)``).

Example
-------
>>> fam = get_family("binomial")
>>> fam.default_link, fam.links
('logit', ('logit', 'probit', 'cloglog'))
>>> get_family("poisson").check_link(None)
'log'
>>> get_family("weibull").censorable, get_family("poisson").censorable
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special, stats

from glmm_bayes.errors import GLMMInputError
from glmm_bayes.priors import Prior


# ---------------------------------------------------------------- links
@dataclass(frozen=True)
class Link:
    """A link function g: ``eta = g(mu)``; ``inverse`` maps eta back to the mean."""

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray]
    inverse_pt: Callable  # same as ``inverse`` on PyTensor variables


def _pt():
    import pytensor.tensor as pt

    return pt


LINKS: dict[str, Link] = {
    "identity": Link("identity", lambda m: m, lambda e: e, lambda e: e),
    "log": Link("log", np.log, np.exp, lambda e: _pt().exp(e)),
    "logit": Link("logit", special.logit, special.expit, lambda e: _pt().sigmoid(e)),
    "probit": Link("probit", special.ndtri, special.ndtr,
                   lambda e: 0.5 * (1 + _pt().erf(e / np.sqrt(2.0)))),
    "cloglog": Link("cloglog", lambda m: np.log(-np.log1p(-m)), lambda e: -np.expm1(-np.exp(e)),
                    lambda e: -_pt().expm1(-_pt().exp(e))),
    "inverse": Link("inverse", lambda m: 1 / m, lambda e: 1 / e, lambda e: 1 / e),
}


def gh_expectation(func: Callable[[np.ndarray], np.ndarray], eta: np.ndarray, variance: np.ndarray,
                   quad_points: int | None = None) -> np.ndarray:
    """``E[func(eta + r)]`` for ``r ~ N(0, variance)`` elementwise, by Gauss–Hermite quadrature.

    ``quad_points=None`` picks 40, 100 or 200 nodes by the largest sd (accuracy: see
    :mod:`glmm_bayes.predict`). ``func`` may add trailing axes (ordinal category axis).

    >>> float(gh_expectation(np.exp, np.array(0.0), np.array(1.0)).round(6))  # exp(1/2)
    1.648721
    """
    sd = np.sqrt(np.maximum(variance, 0.0))
    if quad_points is None:
        largest = float(np.max(sd)) if np.size(sd) else 0.0
        quad_points = 40 if largest <= 2.5 else 100 if largest <= 5 else 200
    nodes, weights = np.polynomial.hermite_e.hermegauss(quad_points)
    weights = weights / np.sqrt(2 * np.pi)
    out = 0.0
    for t, w in zip(nodes, weights):
        out = out + w * func(eta + sd * t)
    return out


# ---------------------------------------------------------------- response
@dataclass
class Response:
    """The outcome as the likelihood needs it.

    ``y`` is the observed value per row (successes for binomial, the time for survival,
    the category's score for ordinal); ``trials`` the number of trials (binomial families);
    ``status`` the censoring indicator (1 event, 0 right-censored, -1 left-censored);
    ``levels``/``scores`` the ordered categories of an ordinal response and their numeric
    scores (the level values when numeric, else 1..K).
    """

    name: str
    y: np.ndarray
    trials: np.ndarray | None = None
    event_level: str | None = None  # for ``y[level]`` or an automatically chosen two-level response
    status: np.ndarray | None = None
    levels: list[str] | None = None
    scores: np.ndarray | None = None
    status_name: str | None = None

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def extra(self) -> np.ndarray | None:
        """What the family's NumPy functions take besides y and mu: trials, censoring status or scores."""
        for value in (self.trials, self.status, self.scores):
            if value is not None:
                return value
        return None


@dataclass(frozen=True)
class AuxParam:
    """An auxiliary (family) parameter such as ``sigma`` with its default prior rule.

    ``support`` is the prior support it needs (``positive``, ``unit`` or ``real``). A vector
    parameter (the ordinal cutpoints) has ``size`` (its length for a response), ``label``
    (``cutpoint`` → ``cutpoint[1]``, ...) and ``ordered=True`` when kept increasing. ``start`` is
    where sampling starts (before jitter) whatever the prior, when the prior's own centre can be far
    off: a Weibull shape of 5 (a half_normal(5) prior) with times 10 × their scale is a log density of
    -1e14, where a nutpie chain adapted its step size to 1e-10 and never moved.
    """

    name: str
    default: Callable[[Response, str], Prior]
    description: str
    support: str = "positive"
    size: Callable[[Response], int] | None = None
    label: str | None = None
    ordered: bool = False
    start: float | None = None


def _sd_y(response: Response, link: str) -> float:
    y = response.y.astype(float)
    sd = float(np.std(y)) if len(y) > 1 else 1.0
    return sd if sd > 0 else 1.0


def _sd_log_y(response: Response, link: str) -> float:
    y = response.y.astype(float)
    sd = float(np.std(np.log(y))) if len(y) > 1 and np.all(y > 0) else 1.0
    return sd if sd > 0 else 1.0


# ---------------------------------------------------------------- validators
def _require_integer_nonneg(response: Response, family: str) -> None:
    y = response.y
    bad = np.flatnonzero((y < 0) | (y != np.round(y)))
    if len(bad):
        i = bad[0]
        raise GLMMInputError(
            f"family '{family}' needs non-negative whole-number counts in '{response.name}', but row {i} "
            f"has {y[i]:g} ({len(bad)} such row(s)). Use a count outcome, or a family for continuous "
            f"data such as 'gaussian' or 'gamma'.")


def _check_binary(response: Response, family: str) -> None:
    y = response.y
    bad = np.flatnonzero((y != 0) & (y != 1))
    if len(bad):
        i = bad[0]
        raise GLMMInputError(
            f"family 'bernoulli' needs a 0/1 outcome, but '{response.name}' has value {y[i]:g} in row {i} "
            f"({len(bad)} such row(s)). Recode it to 0/1, pick the event level with "
            f"'{response.name}[level] ~ ...', or use family 'binomial' with 'p(successes, trials) ~ ...'.")


def _check_trials(response: Response, family: str) -> None:
    if response.trials is None:
        raise GLMMInputError(
            f"family '{family}' needs the number of trials: write the outcome as "
            f"'p(successes, trials) ~ ...' (for 0/1 outcomes use family 'bernoulli').")
    _require_integer_nonneg(response, family)
    n = response.trials
    zero = np.flatnonzero(n == 0)
    if len(zero):
        raise GLMMInputError(f"{len(zero)} row(s) have 0 {family} trials (first: row {zero[0]}); a row without "
                             f"trials says nothing about the probability, so drop those rows before fitting "
                             f"(keep the rows whose trials are > 0)")
    bad = np.flatnonzero((n != np.round(n)) | (n < 1))
    if len(bad):
        raise GLMMInputError(f"{family} trials must be whole numbers >= 1, but row {bad[0]} has {n[bad[0]]:g}")
    bad = np.flatnonzero(response.y > n)
    if len(bad):
        i = bad[0]
        raise GLMMInputError(
            f"{family} successes exceed trials in {len(bad)} row(s): row {i} has {response.y[i]:g} successes "
            f"out of {n[i]:g} trials. Check that the outcome is written 'p(successes, trials)'.")


def _check_positive(response: Response, family: str) -> None:
    bad = np.flatnonzero(response.y <= 0)
    if len(bad):
        what = "time" if response.status is not None else "outcome"
        raise GLMMInputError(
            f"family '{family}' needs a strictly positive {what}, but '{response.name}' is "
            f"{response.y[bad[0]]:g} in row {bad[0]} ({len(bad)} such row(s)). "
            + ("A survival time must be > 0; drop or correct those rows." if response.status is not None
               else "Transform the outcome or pick a family for data with zeros."))


def _check_unit_open(response: Response, family: str) -> None:
    bad = np.flatnonzero((response.y <= 0) | (response.y >= 1))
    if len(bad):
        raise GLMMInputError(
            f"family 'beta' needs an outcome strictly between 0 and 1, but '{response.name}' is "
            f"{response.y[bad[0]]:g} in row {bad[0]} ({len(bad)} such row(s)). Squeeze exact 0s and 1s "
            f"into (0, 1), e.g. (y * (n - 1) + 0.5) / n (Smithson & Verkuilen 2006), or model counts "
            f"with 'binomial'/'beta_binomial'.")


def _check_none(response: Response, family: str) -> None:
    return None


# ---------------------------------------------------------------- PyMC distributions
def _pm():
    import pymc as pm

    return pm


OPEN_UNIT_EPS = 1e-12


def _open_unit(y):
    """``y`` moved at least 1e-12 inside (0, 1) (beta draws round to exactly 0 or 1 for tiny shapes)."""
    return np.clip(y, OPEN_UNIT_EPS, 1 - OPEN_UNIT_EPS)


def _clip_p(p):
    eps = 1e-12
    return _pt().clip(p, eps, 1 - eps)


def _mu(eta, link):
    return LINKS[link].inverse_pt(eta)


def _p(eta, link):
    return _clip_p(_mu(eta, link))


def _gaussian_dist(eta, link, aux, extra):
    return _pm().Normal.dist(mu=_mu(eta, link), sigma=aux["sigma"])


def _bernoulli_dist(eta, link, aux, extra):
    if link == "logit":
        return _pm().Bernoulli.dist(logit_p=eta)
    return _pm().Bernoulli.dist(p=_p(eta, link))


def _binomial_dist(eta, link, aux, extra):
    if link == "logit":
        return _pm().Binomial.dist(n=extra, logit_p=eta)
    return _pm().Binomial.dist(n=extra, p=_p(eta, link))


# ------------------------------------------------- direct log-likelihoods for sampling (PyTensor)
# PyMC's Bernoulli(logit_p=η) computes p = sigmoid(η) and checks 0 ≤ p ≤ 1 on every row; these write
# log p(y | η) straight from η. Same values (tests/test_families.py), and on the hospital model
# (8,525 rows) the NUTS gradient takes 0.33 ms instead of 0.50 ms (benchmarks/README.md).
# Their signature is (y, η, *auxiliary parameters in family order[, trials], *likelihood data), the
# likelihood data being the arrays of :attr:`Family.direct_data`, in :data:`LIKELIHOOD_DATA` order, computed
# once in NumPy (the builder's ``pm.Data`` containers) so that no gradient re-evaluates them:
# - ``y_const``, the term of the data alone (log C(n, y), −log y!): three log-gammas per row were half of the
#   gradient on 12,000 binomial cells (0.88 → 0.41 ms) and a sixth on grouseticks' 403 Poisson rows (27 → 23 µs);
# - ``y_values`` / ``y_value_index``, the distinct outcomes and each row's position among them: the negative
#   binomial's log Γ(y + α) − log Γ(α) depends on y only through its value, so it is computed once per
#   distinct count (and its digamma gradient too) and gathered, instead of once per row;
# - ``y_log``, log y of a positive outcome (gamma, Weibull, lognormal).
# Without them (None) each function computes the same terms per row.
# - ``y_zero_index`` / ``y_positive_index``, the rows where y = 0 / y > 0: the zero-inflated and hurdle families
#   evaluate the branch that differs from the count density on those rows only.
LIKELIHOOD_DATA = {"y_const": True, "y_values": False, "y_value_index": True, "y_log": True,
                   "y_zero_index": False, "y_positive_index": False}  # name → per row?


_LOG2_E = 1.4426950408889634  # log2(e)


def _softplus(x):
    """softplus(x) = log(1 + e^x) = max(x, 0) + log(1 + e^−|x|), written so that it and its gradient, the
    sigmoid e^x / (1 + e^x), share one exponential per row (``pt.softplus`` and its gradient each compute
    their own: the logistic models' gradient made three transcendental calls per row instead of two).

    The exponential is written ``exp2(t·log2 e)`` because PyTensor's stabilising rewrite turns any
    e / (1 + e) with e = exp(t) back into ``sigmoid(t)``, which recomputes it. The branch on x > 0 (not
    ``abs``) gives the gradient 1/2 at x = 0, where sampling starts (``abs``'s gradient there is 0).

    >>> import pytensor.tensor as pt
    >>> float(_softplus(pt.constant(0.0)).eval())  # log 2
    0.6931471805599453
    """
    pt = _pt()
    positive = x > 0
    shared_exp = pt.exp2(pt.switch(positive, -x, x) * _LOG2_E)  # e^−|x|, in (0, 1]
    return pt.switch(positive, x, 0.0) + pt.log1p(shared_exp)


def _bernoulli_logit_logp(y, eta):
    return y * eta - _softplus(eta)


def _binomial_logit_logp(y, eta, trials, constant=None):
    from pymc.distributions.dist_math import binomln

    return (binomln(trials, y) if constant is None else constant) + y * eta - trials * _softplus(eta)


def _poisson_log_logp(y, eta, constant=None):
    return y * eta - _pt().exp(eta) + (-_pt().gammaln(y + 1) if constant is None else constant)


def _negativebinomial_log_logp(y, eta, alpha, constant=None, values=None, value_index=None):
    """log NB(y | μ = exp(η), α) = log Γ(y + α) − log Γ(α) − log y! − (α + y)·s + y·(η − log α), with
    s = softplus(η − log α) = log(1 + μ/α): one softplus per row (PyMC's distribution computes three
    log-gammas, two logarithms and a Poisson fallback per row)."""
    pt = _pt()
    d = eta - pt.log(alpha)
    s = _softplus(d)
    if values is None:
        ratio = pt.gammaln(y + alpha) - pt.gammaln(alpha)
    else:
        ratio = (pt.gammaln(values + alpha) - pt.gammaln(alpha))[value_index]
    constant = -pt.gammaln(y + 1) if constant is None else constant
    return ratio + constant - (alpha + y) * s + y * d


def _zero_inflated_poisson_log_logp(y, eta, zi, constant=None, zero_index=None):
    """y = 0: log(zi + (1 − zi)·e^−μ); y > 0: log(1 − zi) + the Poisson log-density (PyMC's mixture computes
    both components' log-densities and a logsumexp per row).

    With ``zero_index`` (the rows where y = 0) every row gets log(1 − zi) + the Poisson log-density and the zero
    rows alone add log(zi + (1 − zi)·e^−μ) − log(1 − zi) + μ = softplus(log zi − log(1 − zi) + μ): the
    logsumexp and its gradient run over the zeros only (a ``switch`` evaluates both branches on every row).
    """
    pt = _pt()
    keep = pt.log1p(-zi)
    if zero_index is None:
        zero = pt.logaddexp(pt.log(zi), keep - pt.exp(eta))
        return pt.switch(pt.eq(y, 0), zero, keep + _poisson_log_logp(y, eta, constant))
    counts = keep + _poisson_log_logp(y, eta, constant)
    return pt.inc_subtensor(counts[zero_index], pt.softplus(pt.log(zi) - keep + pt.exp(eta[zero_index])))


def _hurdle_poisson_log_logp(y, eta, hu, constant=None, positive_index=None):
    """y = 0: log hu; y > 0: log(1 − hu) + the Poisson log-density − log(1 − e^−μ) (PyMC's truncated mixture
    evaluates the Poisson log-CDF, an incomplete gamma, per row). With ``positive_index`` (the rows where
    y > 0) the positive branch is evaluated on those rows only."""
    pt = _pt()
    if positive_index is None:
        positive = pt.log1p(-hu) + _poisson_log_logp(y, eta, constant) - pt.log1mexp(-pt.exp(eta))
        return pt.switch(pt.eq(y, 0), pt.log(hu), positive)
    eta_p = eta[positive_index]
    positive = (pt.log1p(-hu) + _poisson_log_logp(y[positive_index], eta_p, _rows(constant, positive_index))
                - pt.log1mexp(-pt.exp(eta_p)))
    return pt.set_subtensor(pt.full_like(eta, pt.log(hu), dtype="float64")[positive_index], positive)


def _negativebinomial_log_p0(eta, alpha):
    """log P(y = 0) of the negative binomial with μ = exp(η): −α·log(1 + μ/α) (the same softplus as its
    log-density, which PyTensor computes once)."""
    return -alpha * _softplus(eta - _pt().log(alpha))


def _zero_inflated_negativebinomial_log_logp(y, eta, alpha, zi, constant=None, values=None, value_index=None,
                                             zero_index=None):
    """As :func:`_zero_inflated_poisson_log_logp` around the negative binomial (whose log-density at y = 0 is
    log P(0), so the zero rows add softplus(log zi − log(1 − zi) − log P(0)))."""
    pt = _pt()
    keep = pt.log1p(-zi)
    count = _negativebinomial_log_logp(y, eta, alpha, constant, values, value_index)
    if zero_index is None:
        log_p0 = _negativebinomial_log_p0(eta, alpha)
        return pt.switch(pt.eq(y, 0), pt.logaddexp(pt.log(zi), keep + log_p0), keep + count)
    log_p0 = _negativebinomial_log_p0(eta[zero_index], alpha)
    return pt.inc_subtensor((keep + count)[zero_index], pt.softplus(pt.log(zi) - keep - log_p0))


def _hurdle_negativebinomial_log_logp(y, eta, alpha, hu, constant=None, values=None, value_index=None,
                                      positive_index=None):
    """As :func:`_hurdle_poisson_log_logp` around the negative binomial."""
    pt = _pt()
    if positive_index is None:
        log_p0 = _negativebinomial_log_p0(eta, alpha)
        count = _negativebinomial_log_logp(y, eta, alpha, constant, values, value_index)
        return pt.switch(pt.eq(y, 0), pt.log(hu), pt.log1p(-hu) + count - pt.log1mexp(log_p0))
    eta_p = eta[positive_index]
    count = _negativebinomial_log_logp(y[positive_index], eta_p, alpha, _rows(constant, positive_index), values,
                                       _rows(value_index, positive_index))
    positive = pt.log1p(-hu) + count - pt.log1mexp(_negativebinomial_log_p0(eta_p, alpha))
    return pt.set_subtensor(pt.full_like(eta, pt.log(hu), dtype="float64")[positive_index], positive)


def _rows(values, index):
    """``values[index]``, or None where the per-row likelihood data is absent."""
    return None if values is None else values[index]


def _gamma_log_logp(y, eta, shape, log_y=None):
    """log Gamma(y | shape, rate = shape·exp(−η)): one exp per row (PyMC's computes the rate and two logs)."""
    pt = _pt()
    log_y = pt.log(y) if log_y is None else log_y
    return shape * (pt.log(shape) - eta) + (shape - 1) * log_y - shape * y * pt.exp(-eta) - pt.gammaln(shape)


def _weibull_log_logp(y, eta, shape, log_y=None):
    """log Weibull(y | shape, scale = exp(η)) = log k + (k − 1)·log y − k·η − (y / scale)^k: one exp per row."""
    pt = _pt()
    log_y = pt.log(y) if log_y is None else log_y
    return pt.log(shape) + (shape - 1) * log_y - shape * eta - pt.exp(shape * (log_y - eta))


def _lognormal_logp(y, eta, sigma, log_y=None):
    """log LogNormal(y | η, sigma) = log Normal(log y | η, sigma) − log y, with log y computed once."""
    pt = _pt()
    log_y = pt.log(y) if log_y is None else log_y
    return -0.5 * pt.sqr((log_y - eta) / sigma) - pt.log(sigma) - 0.5 * np.log(2 * np.pi) - log_y


def _log_y_data(y: np.ndarray, trials=None) -> dict[str, np.ndarray]:
    """log y per row, NumPy (the positive families' ``log_y``)."""
    return {"y_log": np.log(y)}


def _binomial_data(y: np.ndarray, trials: np.ndarray) -> dict[str, np.ndarray]:
    """log C(n, y) per row, NumPy (``_binomial_logit_logp``'s constant)."""
    gammaln = special.gammaln
    return {"y_const": gammaln(trials + 1.0) - gammaln(y + 1.0) - gammaln(trials - y + 1.0)}


def _poisson_data(y: np.ndarray, trials=None) -> dict[str, np.ndarray]:
    """−log y! per row, NumPy (``_poisson_log_logp``'s constant)."""
    return {"y_const": -special.gammaln(y + 1.0)}


def _count_value_data(y: np.ndarray, trials=None) -> dict[str, np.ndarray]:
    """−log y!, the distinct counts and each row's index among them (``_negativebinomial_log_logp``)."""
    values, index = np.unique(y, return_inverse=True)
    return {**_poisson_data(y), "y_values": values.astype("float64"), "y_value_index": index.astype("int64")}


def _with_zero_index(data_fn: Callable) -> Callable:
    """``data_fn``'s arrays plus the rows where y = 0 (``y_zero_index``: zero-inflated log-densities)."""
    def arrays(y: np.ndarray, trials=None) -> dict[str, np.ndarray]:
        return {**data_fn(y, trials), "y_zero_index": np.flatnonzero(y == 0).astype("int64")}
    return arrays


def _with_positive_index(data_fn: Callable) -> Callable:
    """``data_fn``'s arrays plus the rows where y > 0 (``y_positive_index``: hurdle log-densities)."""
    def arrays(y: np.ndarray, trials=None) -> dict[str, np.ndarray]:
        return {**data_fn(y, trials), "y_positive_index": np.flatnonzero(y > 0).astype("int64")}
    return arrays


@dataclass(frozen=True)
class CensoredTerms:
    """The three log-likelihood terms of a censorable family at one link, elementwise in PyTensor, each
    ``(t, η, *aux in family order)``: ``event`` log f(t), ``log_sf`` log S(t) (right-censored rows) and
    ``log_cdf`` log F(t) (left-censored rows). :meth:`Family.likelihood` evaluates each on its own rows only
    (the rows come from the data: ``cens_event_index``, ``cens_right_index``, ``cens_left_index``). A ``switch``
    would evaluate all three on every row; the censored gamma's and Student t's log S and log F (incomplete
    gamma and beta functions and their gradients) are most of the cost. On 20,000 rows (60 % events, 35 %
    right-, 5 % left-censored; ``benchmarks/gradients.py --censored``) log density + gradient in ms, by rows
    against the ``switch``: gamma 3.9 / 13.4, Student t 6.6 / 16.7, lognormal 0.69 / 1.94, Gaussian
    0.52 / 1.86, exponential 0.22 / 0.79, Weibull 0.30 / 1.05."""

    event: Callable
    log_sf: Callable
    log_cdf: Callable


def distribution_terms(dist: Callable, link: str, aux_names: tuple[str, ...]) -> CensoredTerms:
    """:class:`CensoredTerms` from a family's PyMC distribution (``dist(eta, link, aux, extra)``): its log-density,
    ``pm.logccdf`` (stable where PyMC has one, else log(1 − F)) and ``pm.logcdf``."""
    def term(kind):
        def evaluate(t, eta, *aux):
            return getattr(_pm(), kind)(dist(eta, link, dict(zip(aux_names, aux)), None), t)
        return evaluate
    return CensoredTerms(term("logp"), term("logccdf"), term("logcdf"))


def _censored_rows(terms: CensoredTerms, t, eta, aux: tuple, event_index, right_index, left_index):
    """Per row: ``terms.event`` on the event rows, ``log_sf`` on the right-censored and ``log_cdf`` on the
    left-censored rows, each evaluated on its own rows only (the three index arrays partition the rows)."""
    pt = _pt()
    out = pt.zeros_like(t, dtype="float64")
    for rows, term in ((event_index, terms.event), (right_index, terms.log_sf), (left_index, terms.log_cdf)):
        out = pt.set_subtensor(out[rows], term(t[rows], eta[rows], *aux))
    return out


# PyMC has no Weibull, gamma or exponential log-survival: ``Censored`` takes log(1 - exp(logcdf)), which is
# -inf once F(t) rounds to 1 (Weibull: (t/scale)^shape > ~745 at the log-CDF, e.g. a jittered starting point),
# so a right-censored row made the whole log-density -inf. These write log S(t) directly.
def _weibull_log_z(t, eta, shape):
    """z = (t / scale)^shape with scale exp(η): the Weibull's log S(t) is −z."""
    pt = _pt()
    return pt.exp(shape * (pt.log(t) - eta))


WEIBULL_LOG_CENSORED = CensoredTerms(
    event=lambda t, eta, shape: _weibull_log_logp(t, eta, shape),
    log_sf=lambda t, eta, shape: -_weibull_log_z(t, eta, shape),
    log_cdf=lambda t, eta, shape: _pt().log1mexp(-_weibull_log_z(t, eta, shape)))


def _gamma_log_x(t, eta, shape):
    """rate·t = shape·t·e^−η, the incomplete gammas' argument of a gamma with mean exp(η)."""
    return shape * t * _pt().exp(-eta)


GAMMA_LOG_CENSORED = CensoredTerms(  # log S = log Q(shape, rate·t), log F = log P(shape, rate·t)
    event=lambda t, eta, shape: _gamma_log_logp(t, eta, shape),
    log_sf=lambda t, eta, shape: _log_gamma_tails(_pt(), shape, _gamma_log_x(t, eta, shape), "q")[0],
    log_cdf=lambda t, eta, shape: _log_gamma_tails(_pt(), shape, _gamma_log_x(t, eta, shape), "p")[0])

EXPONENTIAL_LOG_CENSORED = CensoredTerms(  # mean exp(η): log S = −t·e^−η, log f = −η + log S
    event=lambda t, eta: -eta - t * _pt().exp(-eta),
    log_sf=lambda t, eta: -t * _pt().exp(-eta),
    log_cdf=lambda t, eta: _pt().log1mexp(-t * _pt().exp(-eta)))


_TAIL_TERMS = 8  # terms of the asymptotic series below: at x > 700 the next term is below 1e-15 for a <= 10


def _log_gamma_tails(xp, a, x, tails: str = "qp"):
    """(log Q(a, x), log P(a, x)) for PyTensor (``xp`` = pytensor.tensor) or NumPy (``xp`` = numpy),
    finite where Q or P underflows (Q(2, x) < 1e-308 from x ≈ 745: a right-censored row far beyond
    the mean, e.g. at a jittered start, made the log-density -inf and its gradient NaN).
    ``tails`` picks what is computed and returned, in order: ``"q"`` (log S), ``"p"`` (log F) or both.

    There the logs come from the series
    Q(a, x) = x^(a−1)·e^−x / Γ(a) · Σ_k (a−1)(a−2)…(a−k) / x^k (asymptotic, large x) and
    P(a, x) = x^a·e^−x / Γ(a+1) · Σ_k x^k / ((a+1)…(a+k)) (convergent, used for small x).

    Example: ``_log_gamma_tails(np, 2.0, 800.0)[0]`` is -793.3 (scipy's ``gamma.logsf``: -inf).
    """
    funcs = ((xp.gammainc, xp.gammaincc, xp.gammaln, xp.switch) if xp is not np
             else (special.gammainc, special.gammaincc, special.gammaln, np.where))
    with np.errstate(all="ignore"):  # NumPy: the series of the branch not taken may overflow
        return tuple(_log_gamma_tail(xp, a, x, tail == "q", *funcs) for tail in tails)


def _log_gamma_tail(xp, a, x, upper, gammainc, gammaincc, gammaln, where):
    """log Q(a, x) (``upper``) or log P(a, x) of :func:`_log_gamma_tails`, with the incomplete
    gammas, log-gamma and select of ``xp`` passed in."""
    tiny = 1e-300
    x_safe = where(x > 0, x, 1.0)
    log_x = xp.log(x_safe)
    series = 1.0  # the sum in Horner form: 1 + c1·(1 + c2·(1 + …))
    if upper:
        value = gammaincc(a, x)
        small = value < tiny
        for k in range(_TAIL_TERMS - 1, 0, -1):
            series = 1.0 + (a - k) / x_safe * series
        log_series = (a - 1) * log_x - x - gammaln(a) + xp.log(xp.maximum(series, tiny))
    else:
        value = gammainc(a, x)
        small = (value < tiny) & (x > 0)
        for k in range(_TAIL_TERMS - 1, 0, -1):
            series = 1.0 + x_safe / (a + k) * series
        log_series = a * log_x - x - gammaln(a + 1) + xp.log(series)
    # the inner switch keeps log(0) (and its NaN gradient) out of the branch that is not taken
    return where(small, log_series, xp.log(where(small, 1.0, value)))


# ---------------------------------------------------------------- NumPy helpers
def _log1mexp(x: np.ndarray) -> np.ndarray:
    """log(1 - exp(x)) for x <= 0, accurately."""
    x = np.minimum(x, -1e-300)
    return np.where(x > -np.log(2), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


def _nb_logpmf(y, mu, alpha):
    return stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))


def _nb_p0(mu, alpha):
    return (alpha / (alpha + mu)) ** alpha


def _zero_inflated_logpmf(y, log_p, log_p0, zi):
    """log p(y) with a structural zero of probability ``zi`` in front of a count density."""
    zero = np.logaddexp(np.log(zi), np.log1p(-zi) + log_p0)
    return np.where(y == 0, zero, np.log1p(-zi) + log_p)


def _hurdle_logpmf(y, log_p, p0, hu):
    """log p(y): zero with probability ``hu``, else the zero-truncated count density."""
    return np.where(y == 0, np.log(hu), np.log1p(-hu) + log_p - np.log1p(-np.minimum(p0, 1 - 1e-16)))


def _truncated_draw(rng, ppf, p0):
    """A draw from a count distribution truncated to y >= 1 by inverse CDF."""
    u = p0 + rng.random(np.shape(p0)) * (1 - p0)
    return np.maximum(ppf(np.minimum(u, 1 - 1e-12)), 1)


def _zip_variance(mu, zi):
    return (1 - zi) * mu * (1 + zi * mu)


def _hurdle_moments(mu, second, p0, hu):
    """Mean and variance of a hurdle model from the untruncated mean/second moment and P(0)."""
    keep = (1 - hu) / np.maximum(1 - p0, 1e-300)
    mean = keep * mu
    return mean, keep * second - mean ** 2


# ---------------------------------------------------------------- the family
@dataclass(frozen=True)
class Family:
    """One response distribution. See the module docstring for the parameterisations.

    The NumPy callables take ``mu = g⁻¹(η)``, the auxiliary parameters (broadcast against
    ``mu``) and ``extra`` (trials, censoring status or ordinal scores; see
    :attr:`Response.extra`). ``location`` says how default priors are scaled:
    ``"continuous"`` (mean and sd of y on the link scale), ``"probability"`` (logit of the mean
    proportion, scale 1), ``"positive"`` (log of the mean, scale 1) or ``"latent"`` (0, 1).
    """

    name: str
    links: tuple[str, ...]
    aux: tuple[AuxParam, ...]
    check: Callable[[Response, str], None]
    dist: Callable  # (eta, link, aux, extra) -> an unregistered PyMC distribution
    mean: Callable[[np.ndarray, dict, np.ndarray | None], np.ndarray]
    simulate: Callable[[np.random.Generator, np.ndarray, dict, np.ndarray | None], np.ndarray]
    variance: Callable[[np.ndarray, dict, np.ndarray | None], np.ndarray]  # Var[y | mu] for R², residuals
    logpdf: Callable[[np.ndarray, np.ndarray, dict, np.ndarray | None], np.ndarray]  # log p(y | mu), NumPy
    discrete: bool
    needs_trials: bool = False
    description: str = ""
    location: str = "positive"
    logcdf: Callable | None = None  # log F(y | mu): with ``logsf``, makes the family censorable
    logsf: Callable | None = None  # log S(y | mu)
    intercept: bool = True  # False: the linear predictor has no intercept (ordinal cutpoints replace it)
    open_unit: bool = False  # y strictly inside (0, 1): prior predictive drawn by the NumPy simulator
    # link → log p(y | η, *aux[, trials], *likelihood data) in PyTensor, written directly from η (faster
    # gradients than PyMC's distributions)
    direct_logp: dict[str, Callable] = field(default_factory=dict)
    # link → NumPy (y, trials) -> {name: array}: the likelihood data direct_logp takes (see LIKELIHOOD_DATA)
    direct_data: dict[str, Callable] = field(default_factory=dict)
    # link → the censored log-likelihood's terms (:class:`CensoredTerms`), written directly where PyMC's
    # distribution has no stable log-survival or a cheaper form exists; a censorable family's other links get
    # them from its PyMC distribution (:func:`distribution_terms`)
    censored_terms: dict[str, CensoredTerms] = field(default_factory=dict)
    aux_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "aux_names", tuple(a.name for a in self.aux))
        if self.censorable:
            terms = {link: self.censored_terms.get(link) or distribution_terms(self.dist, link, self.aux_names)
                     for link in self.links}
            object.__setattr__(self, "censored_terms", terms)

    @property
    def default_link(self) -> str:
        return self.links[0]

    @property
    def censorable(self) -> bool:
        """Whether ``censored(time, status)`` responses are allowed."""
        return self.logsf is not None

    @property
    def ordinal(self) -> bool:
        return False

    @property
    def nominal(self) -> bool:
        """True for the categorical family: one linear predictor per non-reference category."""
        return False

    def eta_names(self, response: Response) -> tuple[str, ...]:
        """Names of the linear predictors when there are several (categorical: ``mu<level>``), else ()."""
        return ()

    def check_link(self, link: str | None) -> str:
        """Return the link to use, or raise if ``link`` is not allowed for this family."""
        if link is None:
            return self.default_link
        if link not in self.links:
            raise GLMMInputError(
                f"link '{link}' is not available for family '{self.name}'; use one of: "
                f"{', '.join(self.links)} (default '{self.default_link}')")
        return link

    def aux_param(self, name: str) -> AuxParam:
        return next(a for a in self.aux if a.name == name)

    def location_scale(self, response: Response, link: str) -> tuple[float, float]:
        """Outcome location and scale on the link scale, for default priors."""
        y = response.y.astype(float)
        if self.location == "latent":
            return 0.0, 1.0
        if self.location == "probability":
            p = y / response.trials if response.trials is not None else y
            pbar = float(np.clip(np.mean(p), 0.01, 0.99))
            return float(LINKS[link].forward(np.array(pbar))), 1.0
        if self.location == "continuous":
            if link == "identity":
                if self.name == "lognormal":
                    return float(np.mean(np.log(y))), _sd_log_y(response, link)
                return float(np.mean(y)), _sd_y(response, link)
            if link == "log" and np.all(y > 0):
                return float(np.mean(np.log(y))), max(float(np.std(np.log(y))), 0.1)
        mean = float(np.mean(y))
        if link == "log":
            return float(np.log(max(mean, 1e-3))), 1.0
        if link == "inverse":
            m = 1 / mean if mean > 0 else 1.0
            return m, abs(m)
        return mean, 1.0

    # ------------------------------------------------------ what the rest of the toolkit calls
    def observed(self, response: Response) -> np.ndarray:
        """The values the PyMC likelihood observes (ordinal: category codes 0..K-1)."""
        return response.y.astype("int64" if self.discrete else "float64")

    def likelihood_data(self, link: str, y: np.ndarray, trials: np.ndarray | None,
                        censored: bool = False) -> dict[str, np.ndarray]:
        """The arrays the direct log-density for ``link`` takes, computed once from the data (the model's
        ``pm.Data`` containers named by :data:`LIKELIHOOD_DATA`); empty when the likelihood uses none
        (no direct log-density, or censoring).

        >>> get_family("poisson").likelihood_data("log", np.array([0, 3]), None)["y_const"]  # -log y!
        array([ 0.        , -1.79175947])
        """
        fn = self.direct_data.get(link)
        if fn is None or censored or link not in self.direct_logp:
            return {}
        arrays = fn(np.asarray(y, dtype=float), None if trials is None else np.asarray(trials, dtype=float))
        return {name: arrays[name] for name in LIKELIHOOD_DATA if name in arrays}

    def likelihood(self, name: str, eta, link: str, aux: dict, observed, extra, dims, bounds=None,
                   data: tuple = ()):
        """Register the observed likelihood in the current PyMC model (censored when ``bounds`` is given;
        ``data``: the direct log-density's likelihood data, see :meth:`likelihood_data`)."""
        pm = _pm()
        dims = (dims,) if isinstance(dims, str) else dims
        direct = (self._direct_likelihood(name, eta, link, aux, observed, extra, dims, data)
                  if bounds is None else None)
        if direct is not None:
            return direct
        if bounds is not None:
            return self._censored_likelihood(name, eta, link, aux, observed, dims, bounds)
        dist = self.dist(eta, link, aux, extra)
        return pm.modelcontext(None).register_rv(dist, name, observed=observed, dims=dims)

    def _censored_likelihood(self, name: str, eta, link: str, aux: dict, observed, dims, bounds):
        """A ``CustomDist`` whose log-density evaluates each of the family's :attr:`censored_terms` on its own
        rows (``bounds``: lower and upper bound per row, then the indices of the event, right- and left-censored
        rows); draws come from ``pm.Censored``, which is also the likelihood where the family has no terms."""
        pm = _pm()
        lower, upper, *rows = bounds
        if link not in self.censored_terms:
            return pm.Censored(name, self.dist(eta, link, aux, None), lower=lower, upper=upper,
                               observed=observed, dims=dims)
        names, terms = self.aux_names, self.censored_terms[link]

        def dist(eta, *rest):  # (eta, *aux, lower, upper, event rows, right rows, left rows, size)
            values = dict(zip(names, rest[:len(names)]))
            return pm.Censored.dist(self.dist(eta, link, values, None), lower=rest[-6], upper=rest[-5])

        def logp(t, eta, *rest):  # (t, eta, *aux, lower, upper, event rows, right rows, left rows)
            return _censored_rows(terms, t, eta, rest[:len(names)], *rest[-3:])

        return pm.CustomDist(name, eta, *(aux[n] for n in names), lower, upper, *rows, dist=dist, logp=logp,
                             observed=observed, dims=dims, dtype=observed.dtype)

    def _direct_likelihood(self, name: str, eta, link: str, aux: dict, observed, extra, dims, data: tuple = ()):
        """The likelihood as a ``CustomDist`` whose log-density is :attr:`direct_logp` (draws still come from
        :attr:`dist`); None when the family or link has none. The auxiliary parameters (random variables)
        are inputs of the ``CustomDist``, in family order, after η."""
        if link not in self.direct_logp:
            return None
        pm = _pm()
        names = self.aux_names
        params = (eta, *(aux[n] for n in names), *([] if extra is None else [extra]), *data)

        def dist(eta, *rest):  # (*aux[, trials], *data, size): eta already has one value per row
            trials = rest[len(names)] if extra is not None else None
            return self.dist(eta, link, dict(zip(names, rest[:len(names)])), trials)

        return pm.CustomDist(name, *params, dist=dist, logp=self.direct_logp[link], observed=observed, dims=dims,
                             dtype=observed.dtype)

    def response_mean(self, eta: np.ndarray, link: str, aux: dict, extra=None, variance=None,
                      quad_points: int | None = None) -> np.ndarray:
        """E[y | η] (``variance=None``) or the population average E_r[E[y | η + r]], r ~ N(0, variance)."""
        inverse = LINKS[link].inverse

        def mean(e):
            return self.mean(inverse(e), aux, extra)

        return mean(eta) if variance is None else gh_expectation(mean, eta, variance, quad_points)

    def draw(self, rng: np.random.Generator, eta: np.ndarray, link: str, aux: dict, extra=None) -> np.ndarray:
        """Simulated outcomes given η (uncensored)."""
        return self.simulate(rng, LINKS[link].inverse(eta), aux, extra)

    def loglik(self, y: np.ndarray, eta: np.ndarray, link: str, aux: dict, extra=None) -> np.ndarray:
        """Pointwise log-likelihood; censored rows (``extra`` = status 0 / -1) use log S / log F."""
        mu = LINKS[link].inverse(eta)
        if not self.censorable or extra is None:
            return self.logpdf(y, mu, aux, extra)
        status = extra
        out = self.logpdf(y, mu, aux, None)
        out = np.where(status == 0, self.logsf(y, mu, aux), out)
        return np.where(status == -1, self.logcdf(y, mu, aux), out)

    def response_variance(self, eta: np.ndarray, link: str, aux: dict, extra=None) -> np.ndarray:
        return self.variance(LINKS[link].inverse(eta), aux, extra)

    def survival(self, t: np.ndarray, eta: np.ndarray, link: str, aux: dict) -> np.ndarray:
        """S(t | η) = P(T > t)."""
        if not self.censorable:
            raise GLMMInputError(f"family '{self.name}' is not a survival family; survival curves need "
                                 f"one of: {', '.join(n for n, f in FAMILIES.items() if f.censorable)}")
        with np.errstate(divide="ignore"):  # t = 0: log t = -inf gives S = 1, as it should
            return np.exp(self.logsf(t, LINKS[link].inverse(eta), aux))


@dataclass(frozen=True)
class OrdinalFamily(Family):
    """Cumulative ordinal model: ``P(y ≤ k) = F(cutpoint[k] − η)``; ``extra`` holds the category scores."""

    @property
    def ordinal(self) -> bool:
        return True

    def observed(self, response: Response) -> np.ndarray:
        return np.searchsorted(response.scores, response.y).astype("int64")

    def category_probs(self, eta: np.ndarray, link: str, aux: dict, variance=None,
                       quad_points: int | None = None) -> np.ndarray:
        """P(y = category k) with a trailing category axis; population-averaged when ``variance`` is given."""
        cut = aux["cutpoints"]
        inverse = LINKS[link].inverse

        def cumulative(e):
            return inverse(cut - e[..., None])

        cum = cumulative(eta) if variance is None else gh_expectation(cumulative, eta, variance, quad_points)
        shape = cum.shape[:-1] + (1,)
        cum = np.concatenate([np.zeros(shape), cum, np.ones(shape)], axis=-1)
        return np.clip(np.diff(cum, axis=-1), 0.0, 1.0)

    def response_mean(self, eta, link, aux, extra=None, variance=None, quad_points=None):
        return self.category_probs(eta, link, aux, variance, quad_points) @ extra

    def draw(self, rng, eta, link, aux, extra=None):
        probs = self.category_probs(eta, link, aux)
        u = rng.random(probs.shape[:-1] + (1,))
        codes = (np.cumsum(probs, axis=-1)[..., :-1] < u).sum(axis=-1)
        return extra[codes]

    def loglik(self, y, eta, link, aux, extra=None):
        codes = np.searchsorted(extra, y)
        probs = self.category_probs(eta, link, aux)
        return np.log(np.maximum(np.take_along_axis(probs, np.broadcast_to(
            codes, probs.shape[:-1])[..., None], axis=-1)[..., 0], 1e-300))

    def response_variance(self, eta, link, aux, extra=None):
        probs = self.category_probs(eta, link, aux)
        return probs @ extra ** 2 - (probs @ extra) ** 2


@dataclass(frozen=True)
class CategoricalFamily(Family):
    """Multinomial logit: ``P(y = k) ∝ exp(η_k)`` with ``η_ref = 0`` for the first (reference) category.

    η has a trailing axis of length K − 1 (one linear predictor per non-reference category, named
    ``mu<level>`` as in brms); the response ``y`` holds category codes 0..K-1.
    """

    @property
    def nominal(self) -> bool:
        return True

    def eta_names(self, response: Response) -> tuple[str, ...]:
        return tuple("mu" + re.sub(r"\s+", "_", level) for level in response.levels[1:])

    def category_probs(self, eta: np.ndarray, link: str, aux: dict, variance=None,
                       quad_points: int | None = None) -> np.ndarray:
        """Softmax over (0, η): trailing category axis of length K. With ``variance`` (the (..., K-1, K-1)
        covariance of the group-level part) the probabilities are averaged over it by quasi-Monte Carlo."""
        def softmax(e):
            full = np.concatenate([np.zeros(e.shape[:-1] + (1,)), e], axis=-1)
            return special.softmax(full, axis=-1)

        if variance is None:
            return softmax(eta)
        chol = np.linalg.cholesky(variance + 1e-12 * np.eye(variance.shape[-1]))
        nodes = _normal_nodes(quad_points or 256, eta.shape[-1])
        out = 0.0
        for t in nodes:  # running mean: memory stays at a few arrays of η's size
            out = out + softmax(eta + chol @ t)
        return out / len(nodes)

    def observed(self, response: Response) -> np.ndarray:
        return response.y.astype("int64")

    def response_mean(self, eta, link, aux, extra=None, variance=None, quad_points=None):
        raise GLMMInputError("a categorical response has no mean on one scale; use kind='probs' "
                             "(the probability of each category)")

    def draw(self, rng, eta, link, aux, extra=None):
        probs = self.category_probs(eta, link, aux)
        u = rng.random(probs.shape[:-1] + (1,))
        return (np.cumsum(probs, axis=-1)[..., :-1] < u).sum(axis=-1)

    def loglik(self, y, eta, link, aux, extra=None):
        full = np.concatenate([np.zeros(eta.shape[:-1] + (1,)), eta], axis=-1)
        logp = full - special.logsumexp(full, axis=-1, keepdims=True)
        codes = np.broadcast_to(np.asarray(y, dtype=np.int64), logp.shape[:-1])
        return np.take_along_axis(logp, codes[..., None], axis=-1)[..., 0]

    def response_variance(self, eta, link, aux, extra=None):
        raise GLMMInputError("a categorical response has no variance on one scale (R² and dispersion "
                             "checks are for numeric responses)")


def _normal_nodes(n: int, dim: int) -> np.ndarray:
    """``n`` scrambled-Sobol standard-normal points in ``dim`` dimensions (fixed seed: reproducible)."""
    from scipy.stats import qmc

    u = qmc.Sobol(dim, scramble=True, seed=0).random(n)
    return special.ndtri(np.clip(u, 1e-12, 1 - 1e-12))


FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Add a family to the registry (a new family is one call of this)."""
    FAMILIES[family.name] = family
    return family


def get_family(name: str) -> Family:
    """Look up a family by name (case-insensitive, a few aliases), or raise a clear error."""
    if not isinstance(name, str):
        raise GLMMInputError(f"family must be a name such as 'gaussian', got {name!r}")
    key = name.strip().lower().replace("-", "_")
    key = _FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise GLMMInputError(f"unknown family '{name}'; available families: {', '.join(sorted(FAMILIES))}")
    return FAMILIES[key]


_FAMILY_ALIASES = {"normal": "gaussian", "logistic": "bernoulli", "binary": "bernoulli",
                   "negative_binomial": "negativebinomial", "negbinomial": "negativebinomial",
                   "nb": "negativebinomial", "t": "student_t", "studentt": "student_t",
                   "student": "student_t", "ordinal": "cumulative", "betabinomial": "beta_binomial",
                   "zip": "zero_inflated_poisson", "zinb": "zero_inflated_negativebinomial",
                   "zero_inflated_negative_binomial": "zero_inflated_negativebinomial",
                   "hurdle_negative_binomial": "hurdle_negativebinomial", "lognormal_aft": "lognormal",
                   "log_normal": "lognormal", "multinomial": "categorical", "nominal": "categorical",
                   "multinomial_logit": "categorical"}


def _sigma_prior(response: Response, link: str) -> Prior:
    return Prior("exponential", (1.0 / _sd_y(response, link),))


_VAGUE_SHAPE = "default gamma(0.01, 0.01) as brms"
SIGMA = AuxParam("sigma", _sigma_prior, "residual standard deviation; default exponential(1 / sd(y))")
ALPHA = AuxParam("alpha", lambda r, link: Prior("gamma", (0.01, 0.01)),
                 f"negative-binomial shape: variance mu + mu^2 / alpha; {_VAGUE_SHAPE}")
ZI = AuxParam("zi", lambda r, link: Prior("beta", (1.0, 1.0)),
              "probability of a structural zero; default beta(1, 1)", support="unit")
HU = AuxParam("hu", lambda r, link: Prior("beta", (1.0, 1.0)),
              "probability of a zero (the hurdle); default beta(1, 1)", support="unit")
PHI = AuxParam("phi", lambda r, link: Prior("gamma", (0.01, 0.01)),
               f"precision: variance mu (1 - mu) / (1 + phi); {_VAGUE_SHAPE}")


# ---------------------------------------------------------------- the registry
register(Family(
    name="gaussian", links=("identity", "log"), aux=(SIGMA,),
    check=_check_none, dist=_gaussian_dist,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.normal(mu, aux["sigma"]),
    variance=lambda mu, aux, n: np.broadcast_to(aux["sigma"] ** 2, np.shape(mu)),
    logpdf=lambda y, mu, aux, n: stats.norm.logpdf(y, mu, aux["sigma"]),
    logcdf=lambda y, mu, aux: stats.norm.logcdf(y, mu, aux["sigma"]),
    logsf=lambda y, mu, aux: stats.norm.logsf(y, mu, aux["sigma"]),
    discrete=False, location="continuous", description="y ~ Normal(mu, sigma)"))

register(Family(
    name="bernoulli", links=("logit", "probit", "cloglog"), aux=(),
    check=_check_binary, dist=_bernoulli_dist,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.binomial(1, mu),
    variance=lambda mu, aux, n: mu * (1 - mu),
    logpdf=lambda y, mu, aux, n: stats.bernoulli.logpmf(y, mu), direct_logp={"logit": _bernoulli_logit_logp},
    discrete=True, location="probability", description="y ~ Bernoulli(p), p = g^-1(eta)"))

register(Family(
    name="binomial", links=("logit", "probit", "cloglog"), aux=(),
    check=_check_trials, dist=_binomial_dist,
    mean=lambda mu, aux, n: mu * n,
    simulate=lambda rng, mu, aux, n: rng.binomial(n.astype(np.int64), mu),
    variance=lambda mu, aux, n: n * mu * (1 - mu),
    logpdf=lambda y, mu, aux, n: stats.binom.logpmf(y, n, mu), direct_logp={"logit": _binomial_logit_logp},
    direct_data={"logit": _binomial_data},
    discrete=True, needs_trials=True, location="probability",
    description="successes ~ Binomial(trials, p), p = g^-1(eta)"))

register(Family(
    name="poisson", links=("log", "identity"), aux=(),
    check=_require_integer_nonneg, dist=lambda eta, link, aux, n: _pm().Poisson.dist(mu=_mu(eta, link)),
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.poisson(mu),
    variance=lambda mu, aux, n: mu,
    logpdf=lambda y, mu, aux, n: stats.poisson.logpmf(y, mu), direct_logp={"log": _poisson_log_logp},
    direct_data={"log": _poisson_data},
    discrete=True, description="y ~ Poisson(mu)"))

register(Family(
    name="negativebinomial", links=("log", "identity"), aux=(ALPHA,),
    check=_require_integer_nonneg,
    dist=lambda eta, link, aux, n: _pm().NegativeBinomial.dist(mu=_mu(eta, link), alpha=aux["alpha"]),
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.poisson(rng.gamma(aux["alpha"], mu / aux["alpha"])),
    variance=lambda mu, aux, n: mu + mu ** 2 / aux["alpha"],
    logpdf=lambda y, mu, aux, n: _nb_logpmf(y, mu, aux["alpha"]),
    direct_logp={"log": _negativebinomial_log_logp}, direct_data={"log": _count_value_data},
    discrete=True, description="y ~ NegativeBinomial(mu, alpha), Var = mu + mu^2/alpha"))

register(Family(
    name="gamma", links=("log", "inverse", "identity"),
    aux=(AuxParam("shape", lambda r, link: Prior("gamma", (0.01, 0.01)), f"shape; rate = shape / mu; {_VAGUE_SHAPE}",
                  start=1.0),),
    check=_check_positive,
    dist=lambda eta, link, aux, n: _pm().Gamma.dist(alpha=aux["shape"], beta=aux["shape"] / _mu(eta, link)),
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.gamma(aux["shape"], mu / aux["shape"]),
    variance=lambda mu, aux, n: mu ** 2 / aux["shape"],
    logpdf=lambda y, mu, aux, n: stats.gamma.logpdf(y, aux["shape"], scale=mu / aux["shape"]),
    logcdf=lambda y, mu, aux: _log_gamma_tails(np, aux["shape"], aux["shape"] * y / mu, "p")[0],
    logsf=lambda y, mu, aux: _log_gamma_tails(np, aux["shape"], aux["shape"] * y / mu, "q")[0],
    censored_terms={"log": GAMMA_LOG_CENSORED},
    direct_logp={"log": _gamma_log_logp}, direct_data={"log": _log_y_data},
    discrete=False, description="y ~ Gamma(shape, rate = shape / mu)"))

register(Family(
    name="student_t", links=("identity", "log"),
    aux=(SIGMA, AuxParam("nu", lambda r, link: Prior("gamma", (2.0, 0.1)),
                         "degrees of freedom; default gamma(2, 0.1) as brms")),
    check=_check_none,
    dist=lambda eta, link, aux, n: _pm().StudentT.dist(nu=aux["nu"], mu=_mu(eta, link), sigma=aux["sigma"]),
    mean=lambda mu, aux, n: mu + 0 * aux["nu"],
    simulate=lambda rng, mu, aux, n: mu + aux["sigma"] * rng.standard_t(np.broadcast_to(aux["nu"], np.shape(mu))),
    variance=lambda mu, aux, n: np.broadcast_to(
        np.where(aux["nu"] > 2, aux["sigma"] ** 2 * aux["nu"] / np.maximum(aux["nu"] - 2, 1e-12), np.inf),
        np.shape(mu)),
    logpdf=lambda y, mu, aux, n: stats.t.logpdf(y, aux["nu"], mu, aux["sigma"]),
    logcdf=lambda y, mu, aux: stats.t.logcdf(y, aux["nu"], mu, aux["sigma"]),
    logsf=lambda y, mu, aux: stats.t.logsf(y, aux["nu"], mu, aux["sigma"]),
    discrete=False, location="continuous", description="y ~ StudentT(nu, mu, sigma) (robust regression)"))

register(Family(
    name="lognormal", links=("identity",),
    aux=(AuxParam("sigma", lambda r, link: Prior("exponential", (1.0 / _sd_log_y(r, link),)),
                  "sd of log y; default exponential(1 / sd(log y))"),),
    check=_check_positive,
    dist=lambda eta, link, aux, n: _pm().LogNormal.dist(mu=eta, sigma=aux["sigma"]),
    mean=lambda mu, aux, n: np.exp(mu + aux["sigma"] ** 2 / 2),
    simulate=lambda rng, mu, aux, n: np.exp(rng.normal(mu, aux["sigma"])),
    variance=lambda mu, aux, n: np.expm1(aux["sigma"] ** 2) * np.exp(2 * mu + aux["sigma"] ** 2),
    logpdf=lambda y, mu, aux, n: stats.norm.logpdf(np.log(y), mu, aux["sigma"]) - np.log(y),
    logcdf=lambda y, mu, aux: stats.norm.logcdf(np.log(y), mu, aux["sigma"]),
    logsf=lambda y, mu, aux: stats.norm.logsf(np.log(y), mu, aux["sigma"]),
    direct_logp={"identity": _lognormal_logp}, direct_data={"identity": _log_y_data},
    discrete=False, location="continuous",
    description="log y ~ Normal(eta, sigma); also an AFT survival model with censored(time, status)"))

register(Family(
    name="weibull", links=("log",),
    aux=(AuxParam("shape", lambda r, link: Prior("gamma", (0.01, 0.01)),
                  f"Weibull shape k (hazard rises when k > 1); {_VAGUE_SHAPE}", start=1.0),),
    check=_check_positive,
    dist=lambda eta, link, aux, n: _pm().Weibull.dist(alpha=aux["shape"], beta=_mu(eta, link)),
    mean=lambda mu, aux, n: mu * special.gamma(1 + 1 / aux["shape"]),
    simulate=lambda rng, mu, aux, n: mu * rng.weibull(np.broadcast_to(aux["shape"], np.shape(mu))),
    variance=lambda mu, aux, n: mu ** 2 * (special.gamma(1 + 2 / aux["shape"])
                                           - special.gamma(1 + 1 / aux["shape"]) ** 2),
    logpdf=lambda y, mu, aux, n: stats.weibull_min.logpdf(y, aux["shape"], scale=mu),
    logcdf=lambda y, mu, aux: _log1mexp(-(y / mu) ** aux["shape"]),
    logsf=lambda y, mu, aux: -(y / mu) ** aux["shape"], censored_terms={"log": WEIBULL_LOG_CENSORED},
    direct_logp={"log": _weibull_log_logp}, direct_data={"log": _log_y_data},
    discrete=False, description="T ~ Weibull(shape, scale = exp(eta)) (AFT, survreg convention)"))

register(Family(
    name="exponential", links=("log",), aux=(),
    check=_check_positive,
    dist=lambda eta, link, aux, n: _pm().Exponential.dist(scale=_mu(eta, link)),
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.exponential(mu),
    variance=lambda mu, aux, n: mu ** 2,
    logpdf=lambda y, mu, aux, n: -np.log(mu) - y / mu,
    logcdf=lambda y, mu, aux: _log1mexp(-y / mu),
    logsf=lambda y, mu, aux: -y / mu, censored_terms={"log": EXPONENTIAL_LOG_CENSORED},
    discrete=False, description="T ~ Exponential(mean exp(eta)) (AFT)"))

register(Family(
    name="beta", links=("logit", "probit", "cloglog"), aux=(PHI,),
    check=_check_unit_open,
    dist=lambda eta, link, aux, n: _pm().Beta.dist(mu=_p(eta, link), nu=aux["phi"]),
    mean=lambda mu, aux, n: mu + 0 * aux["phi"],
    simulate=lambda rng, mu, aux, n: _open_unit(rng.beta(mu * aux["phi"], (1 - mu) * aux["phi"])),
    variance=lambda mu, aux, n: mu * (1 - mu) / (1 + aux["phi"]),
    logpdf=lambda y, mu, aux, n: stats.beta.logpdf(y, mu * aux["phi"], (1 - mu) * aux["phi"]),
    discrete=False, location="probability", open_unit=True,
    description="y ~ Beta(mu * phi, (1 - mu) * phi), 0 < y < 1"))

register(Family(
    name="beta_binomial", links=("logit", "probit", "cloglog"), aux=(PHI,),
    check=_check_trials,
    dist=lambda eta, link, aux, n: _pm().BetaBinomial.dist(alpha=_p(eta, link) * aux["phi"],
                                                           beta=(1 - _p(eta, link)) * aux["phi"], n=n),
    mean=lambda mu, aux, n: mu * n + 0 * aux["phi"],
    simulate=lambda rng, mu, aux, n: rng.binomial(np.broadcast_to(n, np.shape(mu)).astype(np.int64),
                                                  np.clip(rng.beta(mu * aux["phi"], (1 - mu) * aux["phi"]), 0, 1)),
    variance=lambda mu, aux, n: n * mu * (1 - mu) * (aux["phi"] + n) / (aux["phi"] + 1),
    logpdf=lambda y, mu, aux, n: stats.betabinom.logpmf(y, n, mu * aux["phi"], (1 - mu) * aux["phi"]),
    discrete=True, needs_trials=True, location="probability",
    description="successes ~ BetaBinomial(trials, mu * phi, (1 - mu) * phi): overdispersed binomial"))

register(Family(
    name="zero_inflated_poisson", links=("log",), aux=(ZI,),
    check=_require_integer_nonneg,
    dist=lambda eta, link, aux, n: _pm().ZeroInflatedPoisson.dist(psi=1 - aux["zi"], mu=_mu(eta, link)),
    mean=lambda mu, aux, n: (1 - aux["zi"]) * mu,
    simulate=lambda rng, mu, aux, n: np.where(rng.random(np.shape(mu)) < aux["zi"], 0, rng.poisson(mu)),
    variance=lambda mu, aux, n: _zip_variance(mu, aux["zi"]),
    logpdf=lambda y, mu, aux, n: _zero_inflated_logpmf(y, stats.poisson.logpmf(y, mu), -mu, aux["zi"]),
    direct_logp={"log": _zero_inflated_poisson_log_logp}, direct_data={"log": _with_zero_index(_poisson_data)},
    discrete=True, description="y = 0 with probability zi, else Poisson(mu)"))

register(Family(
    name="zero_inflated_negativebinomial", links=("log",), aux=(ALPHA, ZI),
    check=_require_integer_nonneg,
    dist=lambda eta, link, aux, n: _pm().ZeroInflatedNegativeBinomial.dist(
        psi=1 - aux["zi"], mu=_mu(eta, link), alpha=aux["alpha"]),
    mean=lambda mu, aux, n: (1 - aux["zi"]) * mu,
    simulate=lambda rng, mu, aux, n: np.where(rng.random(np.shape(mu)) < aux["zi"], 0,
                                              rng.poisson(rng.gamma(aux["alpha"], mu / aux["alpha"]))),
    variance=lambda mu, aux, n: (1 - aux["zi"]) * (mu + mu ** 2 / aux["alpha"] + aux["zi"] * mu ** 2),
    logpdf=lambda y, mu, aux, n: _zero_inflated_logpmf(y, _nb_logpmf(y, mu, aux["alpha"]),
                                                       np.log(_nb_p0(mu, aux["alpha"])), aux["zi"]),
    direct_logp={"log": _zero_inflated_negativebinomial_log_logp}, direct_data={"log": _with_zero_index(_count_value_data)},
    discrete=True, description="y = 0 with probability zi, else NegativeBinomial(mu, alpha)"))

register(Family(
    name="hurdle_poisson", links=("log",), aux=(HU,),
    check=_require_integer_nonneg,
    dist=lambda eta, link, aux, n: _pm().HurdlePoisson.dist(psi=1 - aux["hu"], mu=_mu(eta, link)),
    mean=lambda mu, aux, n: _hurdle_moments(mu, mu + mu ** 2, np.exp(-mu), aux["hu"])[0],
    simulate=lambda rng, mu, aux, n: np.where(
        rng.random(np.shape(mu)) < aux["hu"], 0,
        _truncated_draw(rng, lambda u: stats.poisson.ppf(u, mu), np.exp(-mu))),
    variance=lambda mu, aux, n: _hurdle_moments(mu, mu + mu ** 2, np.exp(-mu), aux["hu"])[1],
    logpdf=lambda y, mu, aux, n: _hurdle_logpmf(y, stats.poisson.logpmf(y, mu), np.exp(-mu), aux["hu"]),
    direct_logp={"log": _hurdle_poisson_log_logp}, direct_data={"log": _with_positive_index(_poisson_data)},
    discrete=True, description="y = 0 with probability hu, else zero-truncated Poisson(mu)"))

register(Family(
    name="hurdle_negativebinomial", links=("log",), aux=(ALPHA, HU),
    check=_require_integer_nonneg,
    dist=lambda eta, link, aux, n: _pm().HurdleNegativeBinomial.dist(
        psi=1 - aux["hu"], mu=_mu(eta, link), alpha=aux["alpha"]),
    mean=lambda mu, aux, n: _hurdle_moments(mu, mu + mu ** 2 / aux["alpha"] + mu ** 2,
                                            _nb_p0(mu, aux["alpha"]), aux["hu"])[0],
    simulate=lambda rng, mu, aux, n: np.where(
        rng.random(np.shape(mu)) < aux["hu"], 0,
        _truncated_draw(rng, lambda u: stats.nbinom.ppf(u, aux["alpha"], aux["alpha"] / (aux["alpha"] + mu)),
                        _nb_p0(mu, aux["alpha"]))),
    variance=lambda mu, aux, n: _hurdle_moments(mu, mu + mu ** 2 / aux["alpha"] + mu ** 2,
                                                _nb_p0(mu, aux["alpha"]), aux["hu"])[1],
    logpdf=lambda y, mu, aux, n: _hurdle_logpmf(y, _nb_logpmf(y, mu, aux["alpha"]), _nb_p0(mu, aux["alpha"]),
                                                aux["hu"]),
    direct_logp={"log": _hurdle_negativebinomial_log_logp}, direct_data={"log": _with_positive_index(_count_value_data)},
    discrete=True, description="y = 0 with probability hu, else zero-truncated NegativeBinomial(mu, alpha)"))


def _ordinal_dist(eta, link, aux, extra):
    if link == "logit":
        return _pm().OrderedLogistic.dist(eta=eta, cutpoints=aux["cutpoints"])
    return _pm().OrderedProbit.dist(eta=eta, cutpoints=aux["cutpoints"], sigma=1.0)


def _check_ordinal(response: Response, family: str) -> None:
    if response.scores is None or len(response.scores) < 2:
        raise GLMMInputError(f"family 'cumulative' needs an ordinal response with at least 2 categories")


register(OrdinalFamily(
    name="cumulative", links=("logit", "probit"),
    aux=(AuxParam("cutpoints", lambda r, link: Prior("student_t", (3.0, 0.0, 2.5)),
                  "K - 1 increasing thresholds; default student_t(3, 0, 2.5) each, as brms", support="real",
                  size=lambda r: len(r.scores) - 1, label="cutpoint", ordered=True),),
    check=_check_ordinal, dist=_ordinal_dist,
    mean=None, simulate=None, variance=None, logpdf=None,  # category probabilities: see OrdinalFamily
    discrete=True, location="latent", intercept=False,
    description="P(y <= k) = F(cutpoint[k] - eta), F logistic or normal; no intercept"))


def _categorical_dist(eta, link, aux, extra):
    pt = _pt()
    logits = pt.concatenate([pt.zeros((eta.shape[0], 1)), eta], axis=1)
    return _pm().Categorical.dist(logit_p=logits)


def _check_categorical(response: Response, family: str) -> None:
    if response.levels is None or len(response.levels) < 2:
        raise GLMMInputError("family 'categorical' needs a response with at least 2 categories")


register(CategoricalFamily(
    name="categorical", links=("logit",), aux=(),
    check=_check_categorical, dist=_categorical_dist,
    mean=None, simulate=None, variance=None, logpdf=None,  # category probabilities: see CategoricalFamily
    discrete=True, location="latent",
    description="P(y = k) = softmax(0, eta_2, ..., eta_K): multinomial logit, first level the reference"))
