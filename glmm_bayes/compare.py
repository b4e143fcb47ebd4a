"""Model comparison: PSIS-LOO (ArviZ), WAIC from the pointwise log-likelihood, and ``compare``.

ArviZ 1.x has no WAIC, so :func:`waic` computes it (Watanabe 2010; Vehtari,
Gelman & Gabry 2017): ``elpd_waic = lppd - p_waic`` with ``lppd_i = log mean_s
p(y_i | θ_s)`` and ``p_waic_i = var_s log p(y_i | θ_s)``; its standard error is
``sqrt(n · var_i(elpd_waic_i))``.

Example
-------
>>> # result = compare({"poisson": fit1, "negbin": fit2})
>>> # result.table      # model, elpd_loo, se, elpd_diff, dse, p_loo, weight, n_high_pareto_k
>>> # result.reading    # "negbin is better than poisson by 12.3 ± 4.1 elpd (about 3.0 SE)."
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from glmm_bayes.errors import GLMMInputError

PARETO_K_MAX = 0.7
COMPARE_COLUMNS = ["model", "elpd_loo", "se", "elpd_diff", "dse", "p_loo", "weight", "n_high_pareto_k"]


@dataclass
class WAIC:
    """WAIC estimate with pointwise terms (``elpd_i``, ``p_i``)."""

    elpd: float
    se: float
    p: float
    elpd_i: np.ndarray
    p_i: np.ndarray

    @property
    def n_high_p(self) -> int:
        return int(np.sum(self.p_i > 0.4))

    def __str__(self) -> str:
        return f"elpd_waic {self.elpd:.2f} (SE {self.se:.2f}), p_waic {self.p:.2f}"


def pointwise_loglik(idata) -> np.ndarray:
    """The log-likelihood as an array (draws, observations), chains stacked."""
    ll = idata["log_likelihood"].to_dataset()["y"].values
    return ll.reshape(-1, ll.shape[-1])


def waic(idata, warn: bool = True) -> WAIC:
    """WAIC from the stored pointwise log-likelihood (see module docstring)."""
    ll = pointwise_loglik(idata)
    lppd_i = logsumexp(ll, axis=0) - np.log(ll.shape[0])
    p_i = np.var(ll, axis=0, ddof=1)
    elpd_i = lppd_i - p_i
    result = WAIC(float(elpd_i.sum()), float(np.sqrt(len(elpd_i) * np.var(elpd_i))), float(p_i.sum()),
                  elpd_i, p_i)
    if warn and result.n_high_p:
        warnings.warn(f"{result.n_high_p} observation(s) have p_waic > 0.4: WAIC may be unreliable; "
                      f"prefer PSIS-LOO (fit.loo()).", UserWarning, stacklevel=2)
    return result


@dataclass
class Comparison:
    """The comparison table (one row per model, best first) and its one-line reading."""

    table: pd.DataFrame
    reading: str

    def __str__(self) -> str:
        return f"{self.table.round(2).to_string(index=False)}\n{self.reading}"

    def _repr_html_(self) -> str:
        return self.table.round(2).to_html(index=False) + f"<p>{self.reading}</p>"


def compare(fits: dict, ic: str = "loo", method: str = "stacking") -> Comparison:
    """Compare fitted models by PSIS-LOO with stacking (or pseudo-BMA) weights.

    ``fits`` maps model names to :class:`~glmm_bayes.fit.Fit` objects fitted to the same rows.
    """
    import arviz as az

    if ic != "loo":
        raise GLMMInputError(f"ic must be 'loo' (ArviZ 1.x compares by PSIS-LOO), got {ic!r}")
    if not isinstance(fits, dict) or len(fits) < 2:
        raise GLMMInputError("compare needs a dict of at least two fits, e.g. {'m1': fit1, 'm2': fit2}")
    sizes = {name: fit.model.design.n for name, fit in fits.items()}
    if len(set(sizes.values())) > 1:
        raise GLMMInputError(f"models were fitted to different numbers of rows ({sizes}); LOO comparison "
                             f"needs the same observations in every model")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loos = {name: fit.loo() for name, fit in fits.items()}
        table = az.compare({name: fit.idata for name, fit in fits.items()}, method=method, round_to="none")
    out = pd.DataFrame({
        "model": table.index,
        "elpd_loo": table["elpd"].to_numpy(float),
        "se": table["se"].to_numpy(float),
        "elpd_diff": table["elpd_diff"].to_numpy(float),
        "dse": table["dse"].to_numpy(float),
        "p_loo": table["p"].to_numpy(float),
        "weight": table["weight"].to_numpy(float),
        "n_high_pareto_k": [int(np.sum(np.asarray(loos[m].pareto_k) > PARETO_K_MAX)) for m in table.index],
    })
    return Comparison(out[COMPARE_COLUMNS], _reading(out))


def _reading(table: pd.DataFrame) -> str:
    best, second = table.iloc[0], table.iloc[1]
    diff, dse = abs(float(second["elpd_diff"])), float(second["dse"])
    ratio = diff / dse if dse > 0 else float("inf")
    strength = ("clearly" if ratio >= 4 else "probably" if ratio >= 2 else "not clearly")
    text = (f"{best['model']} is better than {second['model']} by {diff:.1f} ± {dse:.1f} elpd; the difference "
            f"is about {ratio:.1f} SE, so {best['model']} is {strength} the better predictor"
            f" (stacking weight {best['weight']:.2f}).")
    flagged = table.loc[table["n_high_pareto_k"] > 0, "model"].tolist()
    if flagged:
        text += (f" Pareto k > {PARETO_K_MAX} for some observations in {', '.join(flagged)}: their elpd is "
                 f"less reliable (consider reloo or k-fold).")
    return text
