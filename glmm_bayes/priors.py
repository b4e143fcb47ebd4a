"""Prior strings, their parsing (never ``eval``), and data-scaled default priors.

A prior is written as ``name(arg, arg, ...)`` with numeric arguments, e.g.
``"normal(0, 2.5)"``, ``"half_normal(1)"``, ``"student_t(3, 0, 2.5)"``,
``"lkj(2)"``. The grammar is one regular expression; nothing is evaluated.

Default priors (weakly informative, scaled to the data in the spirit of
rstanarm's autoscaling; the rule is documented in the README):

* ``s_y`` is the scale of the outcome on the link scale: ``sd(y)`` for a
  Gaussian identity-link model (``sd(log y)`` for a log link), else 1.
* each slope ``b_x ~ normal(0, 2.5 * s_y / sd(x))`` (``sd(x)`` of its design column);
* ``b_Intercept ~ normal(m_y, 2.5 * s_y * sqrt(1 + sum_j (mean(x_j) / sd(x_j))^2))``
  where ``m_y`` is the outcome mean on the link scale: the intercept implied
  by a ``normal(m_y, 2.5 s_y)`` prior on the intercept at the predictor means
  and the slope priors above (predictors are not centred internally);
* group-level standard deviations ``sd ~ half_student_t(3, 2.5 * s_y)``;
* correlations ``cor ~ lkj(2)``;
* family parameters: see :mod:`glmm_bayes.families`.

Example
-------
>>> p = Prior.parse("normal(0, 2.5)")
>>> p.dist, p.args
('normal', (0.0, 2.5))
>>> str(p)
'normal(0, 2.5)'
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass

import numpy as np

from glmm_bayes.errors import GLMMInputError

# name -> (PyMC class name, parameter names, support)
_DISTRIBUTIONS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "normal": ("Normal", ("mu", "sigma"), "real"),
    "student_t": ("StudentT", ("nu", "mu", "sigma"), "real"),
    "cauchy": ("Cauchy", ("alpha", "beta"), "real"),
    "logistic": ("Logistic", ("mu", "s"), "real"),
    "half_normal": ("HalfNormal", ("sigma",), "positive"),
    "half_cauchy": ("HalfCauchy", ("beta",), "positive"),
    "half_student_t": ("HalfStudentT", ("nu", "sigma"), "positive"),
    "exponential": ("Exponential", ("lam",), "positive"),
    "gamma": ("Gamma", ("alpha", "beta"), "positive"),
    "inverse_gamma": ("InverseGamma", ("alpha", "beta"), "positive"),
    "lognormal": ("LogNormal", ("mu", "sigma"), "positive"),
    "uniform": ("Uniform", ("lower", "upper"), "interval"),
    "beta": ("Beta", ("alpha", "beta"), "unit"),
    "lkj": ("LKJ", ("eta",), "correlation"),
}
# parameters that must be strictly positive
_POSITIVE_ARGS = {"sigma", "beta", "nu", "lam", "alpha", "s", "eta"}
_ALIASES = {"halfnormal": "half_normal", "halfcauchy": "half_cauchy",
            "halfstudent_t": "half_student_t", "half_t": "half_student_t",
            "studentt": "student_t", "t": "student_t", "invgamma": "inverse_gamma",
            "inv_gamma": "inverse_gamma", "log_normal": "lognormal", "lkj_corr": "lkj"}
_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_PRIOR_RE = re.compile(rf"^\s*([A-Za-z_]+)\s*\(\s*({_NUMBER}(?:\s*,\s*{_NUMBER})*)?\s*\)\s*$")

DEFAULT_SD_NU = 3.0
DEFAULT_LKJ_ETA = 2.0


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}" if x != int(x) or abs(x) >= 1e6 else str(int(x))


@dataclass(frozen=True)
class Prior:
    """One prior distribution: a name from the grammar and its numeric arguments.

    Example
    -------
    >>> Prior("half_normal", (3.0,)).support
    'positive'
    """

    dist: str
    args: tuple[float, ...]

    @classmethod
    def parse(cls, text: str, key: str = "prior") -> "Prior":
        """Parse ``"name(a, b)"``; raise :class:`GLMMInputError` naming ``key`` if malformed."""
        if isinstance(text, Prior):
            return text
        if not isinstance(text, str):
            raise GLMMInputError(f"prior for '{key}' must be a string like 'normal(0, 2.5)', got {text!r}")
        match = _PRIOR_RE.match(text)
        if match is None:
            raise GLMMInputError(
                f"prior for '{key}' is malformed: {text!r}. Write a distribution name and numeric "
                f"arguments, e.g. 'normal(0, 2.5)', 'half_normal(1)', 'lkj(2)'. "
                f"Known distributions: {', '.join(_DISTRIBUTIONS)}")
        name = match.group(1).lower()
        name = _ALIASES.get(name, name)
        if name not in _DISTRIBUTIONS:
            raise GLMMInputError(
                f"prior for '{key}' uses unknown distribution '{match.group(1)}' in {text!r}; "
                f"known distributions: {', '.join(_DISTRIBUTIONS)}")
        args = tuple(float(a) for a in re.findall(_NUMBER, match.group(2) or ""))
        prior = cls(name, args)
        prior.validate(key)
        return prior

    @property
    def param_names(self) -> tuple[str, ...]:
        return _DISTRIBUTIONS[self.dist][1]

    @property
    def support(self) -> str:
        return _DISTRIBUTIONS[self.dist][2]

    def validate(self, key: str = "prior") -> None:
        names = self.param_names
        if len(self.args) != len(names):
            raise GLMMInputError(
                f"prior for '{key}': {self.dist}() takes {len(names)} argument(s) "
                f"({', '.join(names)}), got {len(self.args)} in '{self}'")
        for name, value in zip(names, self.args):
            if not math.isfinite(value):
                raise GLMMInputError(f"prior for '{key}': argument {name} of '{self}' is not finite")
            if name in _POSITIVE_ARGS and value <= 0:
                raise GLMMInputError(
                    f"prior for '{key}': argument {name} of '{self}' must be > 0, got {_fmt(value)}")
        if self.dist == "uniform" and self.args[0] >= self.args[1]:
            raise GLMMInputError(f"prior for '{key}': uniform(lower, upper) needs lower < upper, got '{self}'")

    def require_support(self, supports: set[str], key: str, what: str) -> None:
        """Check the prior fits a parameter (e.g. a standard deviation must get a positive prior)."""
        ok = self.support in supports
        if self.dist == "uniform" and "positive" in supports:
            ok = self.args[0] >= 0
        if self.dist == "uniform" and "unit" in supports:
            ok = ok or (self.args[0] >= 0 and self.args[1] <= 1)
        if not ok:
            examples = {"positive": "half_normal(1) or exponential(1)", "real": "normal(0, 1)",
                        "correlation": "lkj(2)", "unit": "beta(1, 1)"}
            want = " or ".join(examples[s] for s in ("real", "positive", "correlation", "unit")
                               if s in supports)
            raise GLMMInputError(f"prior for '{key}' is {self}, which does not suit {what}; use e.g. {want}")

    def scaled(self, k: float) -> "Prior":
        """The prior of ``k · θ`` for a location–scale prior of ``θ`` (normal, student_t, cauchy, logistic)."""
        scalable = {"normal": (0, 1), "cauchy": (0, 1), "logistic": (0, 1), "student_t": (1, 2)}
        if self.dist not in scalable:
            raise ValueError(f"{self.dist} is not a location-scale family")
        args = list(self.args)
        for i in scalable[self.dist]:
            args[i] = args[i] * k
        return Prior(self.dist, tuple(args))

    def kwargs(self) -> dict[str, float]:
        return dict(zip(self.param_names, self.args))

    def pymc_class(self):
        import pymc as pm

        return getattr(pm, _DISTRIBUTIONS[self.dist][0])

    def __str__(self) -> str:
        return f"{self.dist}({', '.join(_fmt(a) for a in self.args)})"


def vector_prior(name: str, priors: list[Prior], dims: str | tuple[str, ...]):
    """One PyMC random variable for several coefficients that share a distribution family.

    The arguments are stacked into vectors, so ``[normal(0, 1), normal(0, 5)]``
    becomes ``pm.Normal(name, mu=[0, 0], sigma=[1, 5], dims=dims)``.
    """
    first = priors[0]
    assert all(p.dist == first.dist for p in priors)
    params = {k: np.array([p.kwargs()[k] for p in priors]) for k in first.param_names}
    return first.pymc_class()(name, **params, dims=dims)


def default_scales(x: np.ndarray) -> np.ndarray:
    """Standard deviation of each design column, 1 where a column is constant."""
    sd = np.std(x, axis=0) if len(x) else np.ones(x.shape[1])
    return np.where(sd > 0, sd, 1.0)


# ---------------------------------------------------------------- resolving a prior table
@dataclass
class PriorSet:
    """The priors actually used, one per model parameter (defaults filled in).

    ``fixed`` maps design columns (``"Intercept"``, ``"x"``) to priors; ``sd`` and
    ``cor`` map group-level block keys; ``aux`` maps family parameters.
    """

    fixed: dict[str, Prior]
    sd: dict[str, Prior]
    cor: dict[str, Prior]
    aux: dict[str, Prior]
    source: dict[str, str]  # label -> "user" or "default"
    labels: dict[str, str]  # block key -> the label used in parameter names

    def table(self):
        """A tidy table: ``param``, ``prior``, ``source`` (what ``GLMM.priors`` shows)."""
        import pandas as pd

        rows = [(f"b_{c}", str(p)) for c, p in self.fixed.items()]
        rows += [(f"sd_{self.labels[k]}", str(p)) for k, p in self.sd.items()]
        rows += [(f"cor_{self.labels[k]}", str(p)) for k, p in self.cor.items()]
        rows += [(name, str(p)) for name, p in self.aux.items()]
        return pd.DataFrame({"param": [r[0] for r in rows], "prior": [r[1] for r in rows],
                             "source": [self.source[r[0]] for r in rows]})


def resolve_priors(design, user: dict[str, str] | None = None) -> PriorSet:
    """Fill in data-scaled defaults and apply the user's prior keys (see module docstring).

    Keys: ``Intercept``, ``b``, ``b_<column>``, ``sd``, ``sd_<group>``, ``cor``,
    ``cor_<group>`` and the family's parameter names. A categorical model also takes
    ``b_<eta>_<column>`` for one category's coefficient (``b_mu2_x``); ``b_<column>`` and
    ``Intercept`` apply to every category. An unknown key is an error.
    """
    if user is not None and not isinstance(user, dict):
        raise GLMMInputError(f"priors must be a dict of key -> prior string, got {type(user).__name__}")
    user = dict(user or {})
    bad = [k for k in user if not isinstance(k, str)]
    if bad:
        raise GLMMInputError(f"prior keys must be strings such as 'b' or 'sd_g', got {bad[0]!r}")
    parsed = {key: Prior.parse(text, key) for key, text in user.items()}
    family, link = design.family, design.link
    loc, scale = family.location_scale(design.response, link)
    loc -= design.offset_mean  # with offset(log(exposure)) the intercept is a rate per unit of exposure
    labels = {b.key: b.label for b in design.blocks}
    valid = _valid_keys(design)
    spaced = {re.sub(r"\s+", "", k): k for k in valid}  # 'b_I(x**2)' means 'b_I(x ** 2)'
    parsed = {spaced.get(re.sub(r"\s+", "", k), k) if k not in valid else k: v for k, v in parsed.items()}
    for key in parsed:
        uncorrelated = [b.label for b in design.blocks if not b.correlated and key == f"cor_{b.label}"]
        if uncorrelated:
            raise GLMMInputError(f"prior key '{key}' sets the correlations of the '{uncorrelated[0]}' effects, but "
                                 f"they have none (one term, or terms written with '||'); drop the key, or write "
                                 f"'(1 + x | {uncorrelated[0]})' for correlated effects")
        if key not in valid:
            close = difflib.get_close_matches(key, sorted(valid), n=3)
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise GLMMInputError(f"unknown prior key '{key}'.{hint} Valid keys for this model: "
                                 f"{', '.join(sorted(valid))}")
    source: dict[str, str] = {}

    def pick(label: str, keys: list[str], default: Prior) -> Prior:
        for key in keys:
            if key in parsed:
                source[label] = "user"
                return parsed[key]
        source[label] = "default"
        return default

    x_sd = default_scales(design.X)
    x_mean = design.X.mean(axis=0) if design.n else np.zeros(design.X.shape[1])
    slope = [j for j, c in enumerate(design.X_columns) if c != "Intercept"]
    fixed = {}
    for name in design.coef_names:  # the columns of X, or (categorical) <eta>_<column> for each η
        j = design.coef_position(name)[1]
        col = design.X_columns[j]
        specific = [f"b_{name}"] if name != col else []
        if col == "Intercept":
            spread = np.sqrt(1 + np.sum((x_mean[slope] / x_sd[slope]) ** 2))
            default = Prior("normal", (_round(loc), _round(2.5 * scale * spread)))
            fixed[name] = pick(f"b_{name}", specific + ["b_Intercept", "Intercept"], default)
        else:
            default = Prior("normal", (0.0, _round(2.5 * scale / x_sd[j])))
            fixed[name] = pick(f"b_{name}", specific + [f"b_{col}", "b"], default)
        fixed[name].require_support({"real", "positive", "interval", "unit"}, f"b_{name}", "a coefficient")
    sd, cor = {}, {}
    for block in design.blocks:
        label = block.label
        default = Prior("half_student_t", (DEFAULT_SD_NU, _round(2.5 * scale)))
        sd[block.key] = pick(f"sd_{label}", [f"sd_{label}", "sd"], default)
        sd[block.key].require_support({"positive"}, f"sd_{label}", "a standard deviation")
        if block.correlated:
            cor[block.key] = pick(f"cor_{label}", [f"cor_{label}", "cor"], Prior("lkj", (DEFAULT_LKJ_ETA,)))
            cor[block.key].require_support({"correlation"}, f"cor_{label}", "a correlation matrix")
    aux = {}
    for param in family.aux:
        aux[param.name] = pick(param.name, [param.name], param.default(design.response, link))
        aux[param.name].require_support({param.support}, param.name, f"the {family.name} parameter '{param.name}'")
    for key, prior in parsed.items():
        if prior.dist == "lkj" and not key.startswith("cor"):
            raise GLMMInputError(f"prior for '{key}' is {prior}; lkj() is only for correlations ('cor' keys)")
    return PriorSet(fixed, sd, cor, aux, source, labels)


def _valid_keys(design) -> set[str]:
    keys = {"b", "sd", "cor"} | set(design.family.aux_names)
    keys |= {f"b_{c}" for c in design.X_columns} | {f"b_{c}" for c in design.coef_names}
    if "Intercept" in design.X_columns:
        keys.add("Intercept")
    for block in design.blocks:
        keys |= {f"sd_{block.label}"} | ({f"cor_{block.label}"} if block.correlated else set())
    return keys


def _round(x: float) -> float:
    """Round a default prior's argument to 3 significant digits so the table reads well."""
    return float(f"{x:.3g}")
