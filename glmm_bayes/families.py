"""The family registry: one entry per response distribution.

Each :class:`Family` knows its allowed links (the first is the default), its
auxiliary parameters with data-scaled default priors, how to check a response,
its PyMC likelihood, its response-scale mean and how to simulate from it with
NumPy. Adding a family means adding one entry to :data:`FAMILIES`.

Parameterisations (DESIGN.md §2): gaussian ``y ~ Normal(mu, sigma)``;
bernoulli/binomial ``P = g^-1(eta)``; poisson mean ``exp(eta)``; negative
binomial mean ``mu``, variance ``mu + mu^2 / alpha``; gamma mean ``mu`` with
``shape`` (rate ``shape / mu``).

Example
-------
>>> fam = get_family("binomial")
>>> fam.default_link, fam.links
('logit', ('logit', 'probit', 'cloglog'))
>>> get_family("poisson").check_link(None)
'log'
"""

from __future__ import annotations

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


# ---------------------------------------------------------------- response
@dataclass
class Response:
    """The outcome as the likelihood needs it.

    ``y`` is the observed value per row (successes for binomial), ``trials``
    the number of trials per row (binomial only).
    """

    name: str
    y: np.ndarray
    trials: np.ndarray | None = None
    event_level: str | None = None  # for ``y[level]`` or an automatically chosen two-level response

    @property
    def n(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class AuxParam:
    """An auxiliary (family) parameter such as ``sigma`` with its default prior rule."""

    name: str
    default: Callable[[Response, str], Prior]
    description: str


def _sd_y(response: Response, link: str) -> float:
    y = response.y.astype(float)
    sd = float(np.std(y)) if len(y) > 1 else 1.0
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
            f"family 'binomial' needs the number of trials: write the outcome as "
            f"'p(successes, trials) ~ ...' (for 0/1 outcomes use family 'bernoulli').")
    _require_integer_nonneg(response, family)
    n = response.trials
    bad = np.flatnonzero((n != np.round(n)) | (n < 1))
    if len(bad):
        raise GLMMInputError(f"binomial trials must be whole numbers >= 1, but row {bad[0]} has {n[bad[0]]:g}")
    bad = np.flatnonzero(response.y > n)
    if len(bad):
        i = bad[0]
        raise GLMMInputError(
            f"binomial successes exceed trials in {len(bad)} row(s): row {i} has {response.y[i]:g} successes "
            f"out of {n[i]:g} trials. Check that the outcome is written 'p(successes, trials)'.")


def _check_positive(response: Response, family: str) -> None:
    bad = np.flatnonzero(response.y <= 0)
    if len(bad):
        raise GLMMInputError(
            f"family '{family}' needs a strictly positive outcome, but '{response.name}' is "
            f"{response.y[bad[0]]:g} in row {bad[0]} ({len(bad)} such row(s)).")


def _check_none(response: Response, family: str) -> None:
    return None


# ---------------------------------------------------------------- likelihoods (PyMC)
def _gaussian_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    return pm.Normal(name, mu=LINKS[link].inverse_pt(eta), sigma=aux["sigma"], observed=observed, dims=dims)


def _bernoulli_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    if link == "logit":
        return pm.Bernoulli(name, logit_p=eta, observed=observed, dims=dims)
    return pm.Bernoulli(name, p=_clip_p(LINKS[link].inverse_pt(eta)), observed=observed, dims=dims)


def _binomial_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    if link == "logit":
        return pm.Binomial(name, n=trials, logit_p=eta, observed=observed, dims=dims)
    return pm.Binomial(name, n=trials, p=_clip_p(LINKS[link].inverse_pt(eta)), observed=observed, dims=dims)


def _clip_p(p):
    eps = 1e-12
    return _pt().clip(p, eps, 1 - eps)


def _poisson_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    return pm.Poisson(name, mu=LINKS[link].inverse_pt(eta), observed=observed, dims=dims)


def _negbin_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    return pm.NegativeBinomial(name, mu=LINKS[link].inverse_pt(eta), alpha=aux["alpha"],
                               observed=observed, dims=dims)


def _gamma_like(name, eta, link, aux, observed, trials, dims):
    import pymc as pm

    mu = LINKS[link].inverse_pt(eta)
    return pm.Gamma(name, alpha=aux["shape"], beta=aux["shape"] / mu, observed=observed, dims=dims)


@dataclass(frozen=True)
class Family:
    """One response distribution. See the module docstring for the parameterisations."""

    name: str
    links: tuple[str, ...]
    aux: tuple[AuxParam, ...]
    check: Callable[[Response, str], None]
    likelihood: Callable
    mean: Callable[[np.ndarray, dict, np.ndarray | None], np.ndarray]
    simulate: Callable[[np.random.Generator, np.ndarray, dict, np.ndarray | None], np.ndarray]
    variance: Callable[[np.ndarray, dict, np.ndarray | None], np.ndarray]  # Var[y | mu] for R², residuals
    logpdf: Callable[[np.ndarray, np.ndarray, dict, np.ndarray | None], np.ndarray]  # log p(y | mu), NumPy
    discrete: bool
    needs_trials: bool = False
    description: str = ""
    aux_names: tuple[str, ...] = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "aux_names", tuple(a.name for a in self.aux))

    @property
    def default_link(self) -> str:
        return self.links[0]

    def check_link(self, link: str | None) -> str:
        """Return the link to use, or raise if ``link`` is not allowed for this family."""
        if link is None:
            return self.default_link
        if link not in self.links:
            raise GLMMInputError(
                f"link '{link}' is not available for family '{self.name}'; use one of: "
                f"{', '.join(self.links)} (default '{self.default_link}')")
        return link

    def location_scale(self, response: Response, link: str) -> tuple[float, float]:
        """Outcome location and scale on the link scale, for default priors."""
        y = response.y.astype(float)
        if self.name == "gaussian" and link == "identity":
            return float(np.mean(y)), _sd_y(response, link)
        if self.name in ("bernoulli", "binomial"):
            p = y / response.trials if response.trials is not None else y
            pbar = float(np.clip(np.mean(p), 0.01, 0.99))
            return float(LINKS[link].forward(np.array(pbar))), 1.0
        mean = float(np.mean(y))
        if link == "log":
            if self.name == "gaussian" and np.all(y > 0):
                return float(np.mean(np.log(y))), max(float(np.std(np.log(y))), 0.1)
            return float(np.log(max(mean, 1e-3))), 1.0
        if link == "inverse":
            m = 1 / mean if mean > 0 else 1.0
            return m, abs(m)
        return mean, 1.0


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
                   "nb": "negativebinomial"}

register(Family(
    name="gaussian", links=("identity", "log"),
    aux=(AuxParam("sigma", lambda r, link: Prior("exponential", (1.0 / _sd_y(r, link),)),
                  "residual standard deviation; default exponential(1 / sd(y))"),),
    check=_check_none, likelihood=_gaussian_like,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.normal(mu, aux["sigma"]),
    variance=lambda mu, aux, n: np.broadcast_to(aux["sigma"] ** 2, np.shape(mu)),
    logpdf=lambda y, mu, aux, n: stats.norm.logpdf(y, mu, aux["sigma"]),
    discrete=False, description="y ~ Normal(mu, sigma)"))

register(Family(
    name="bernoulli", links=("logit", "probit", "cloglog"), aux=(),
    check=_check_binary, likelihood=_bernoulli_like,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.binomial(1, mu),
    variance=lambda mu, aux, n: mu * (1 - mu),
    logpdf=lambda y, mu, aux, n: stats.bernoulli.logpmf(y, mu),
    discrete=True, description="y ~ Bernoulli(p), p = g^-1(eta)"))

register(Family(
    name="binomial", links=("logit", "probit", "cloglog"), aux=(),
    check=_check_trials, likelihood=_binomial_like,
    mean=lambda mu, aux, n: mu * n,
    simulate=lambda rng, mu, aux, n: rng.binomial(n.astype(np.int64), mu),
    variance=lambda mu, aux, n: n * mu * (1 - mu),
    logpdf=lambda y, mu, aux, n: stats.binom.logpmf(y, n, mu),
    discrete=True, needs_trials=True, description="successes ~ Binomial(trials, p), p = g^-1(eta)"))

register(Family(
    name="poisson", links=("log", "identity"), aux=(),
    check=_require_integer_nonneg, likelihood=_poisson_like,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.poisson(mu),
    variance=lambda mu, aux, n: mu,
    logpdf=lambda y, mu, aux, n: stats.poisson.logpmf(y, mu),
    discrete=True, description="y ~ Poisson(mu)"))

register(Family(
    name="negativebinomial", links=("log", "identity"),
    aux=(AuxParam("alpha", lambda r, link: Prior("gamma", (0.01, 0.01)),
                  "shape: variance mu + mu^2 / alpha; default gamma(0.01, 0.01) as brms"),),
    check=_require_integer_nonneg, likelihood=_negbin_like,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.poisson(rng.gamma(aux["alpha"], mu / aux["alpha"])),
    variance=lambda mu, aux, n: mu + mu ** 2 / aux["alpha"],
    logpdf=lambda y, mu, aux, n: stats.nbinom.logpmf(y, aux["alpha"], aux["alpha"] / (aux["alpha"] + mu)),
    discrete=True, description="y ~ NegativeBinomial(mu, alpha), Var = mu + mu^2/alpha"))

register(Family(
    name="gamma", links=("log", "inverse", "identity"),
    aux=(AuxParam("shape", lambda r, link: Prior("gamma", (0.01, 0.01)),
                  "shape; rate = shape / mu; default gamma(0.01, 0.01) as brms"),),
    check=_check_positive, likelihood=_gamma_like,
    mean=lambda mu, aux, n: mu,
    simulate=lambda rng, mu, aux, n: rng.gamma(aux["shape"], mu / aux["shape"]),
    variance=lambda mu, aux, n: mu ** 2 / aux["shape"],
    logpdf=lambda y, mu, aux, n: stats.gamma.logpdf(y, aux["shape"], scale=mu / aux["shape"]),
    discrete=False, description="y ~ Gamma(shape, rate = shape / mu)"))
