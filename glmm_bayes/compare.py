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

import os
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
        table = az.compare({name: fit.loo_data() for name, fit in fits.items()}, method=method, round_to="none")
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


# ---------------------------------------------------------------- refitting: reloo and k-fold
def _logmeanexp(ll: np.ndarray) -> np.ndarray:
    """log mean exp over draws: ``ll`` (chain, draw, n) → (n,)."""
    flat = ll.reshape(-1, ll.shape[-1])
    return logsumexp(flat, axis=0) - np.log(flat.shape[0])


def sampling_wrapper(fit, draws: int | None = None, tune: int | None = None, seed: int = 0):
    """An ArviZ ``SamplingWrapper`` refitting ``fit``'s compiled model without some rows (for ``reloo``)."""
    from arviz_stats.loo.wrapper import SamplingWrapper

    post = fit.posterior
    draws = draws or int(post.sizes["draw"])
    chains = int(post.sizes["chain"])
    model = fit.model

    class GLMMSamplingWrapper(SamplingWrapper):
        def sel_observations(self, idx):
            i = np.atleast_1d(idx["obs"] if isinstance(idx, dict) else idx).astype(int)
            keep = np.setdiff1d(np.arange(model.design.n), i)
            return keep, i

        def sample(self, modified_observed_data):
            self.n_refits = getattr(self, "n_refits", 0) + 1
            return model.refit(modified_observed_data, draws=draws, tune=tune or draws, chains=chains,
                               seed=seed + self.n_refits)

        def get_inference_data(self, fitted_model):
            return fitted_model

        def log_likelihood__i(self, excluded_obs, idata__i):
            import xarray as xr

            ll = model.pointwise_loglik(idata__i, excluded_obs)
            return xr.DataArray(ll, dims=("chain", "draw", "obs"), coords={"obs": excluded_obs})

    return GLMMSamplingWrapper(model=model, idata_orig=fit.idata)


def reloo(fit, k_threshold: float = PARETO_K_MAX, draws: int | None = None, seed: int = 0):
    """PSIS-LOO where observations with Pareto k > ``k_threshold`` get an exact refit without them.

    Returns the ArviZ ELPD object with ``n_refits`` and ``refit_seconds`` attributes added.
    """
    import time

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(fit.idata, pointwise=True)
        wrapper = sampling_wrapper(fit, draws=draws, seed=seed)
        start = time.perf_counter()
        result = az.reloo(wrapper, loo_orig=loo, k_threshold=k_threshold, pointwise=True)
    result.n_refits = getattr(wrapper, "n_refits", 0)
    result.refit_seconds = time.perf_counter() - start
    return result


@dataclass
class KFold:
    """k-fold cross-validation result: ``elpd`` (sum of pointwise), its ``se``, and per-row/per-group terms."""

    elpd: float
    se: float
    elpd_i: np.ndarray
    fold: np.ndarray
    by_group: pd.DataFrame | None
    pids: list[int]
    seconds: float

    def __str__(self) -> str:
        return f"elpd_kfold {self.elpd:.2f} (SE {self.se:.2f}) over {len(np.unique(self.fold))} folds"


def fold_ids(fit, k: int, group: str | None, stratify: str | None, seed: int) -> np.ndarray:
    """Fold number per row: whole levels of ``group`` together; balanced over ``stratify`` if given."""
    data = fit.model.design.data
    rng = np.random.default_rng(seed)
    units = data[group].astype(str).to_numpy() if group else np.arange(len(data)).astype(str)
    levels = np.unique(units)
    if not 2 <= k <= len(levels):
        raise GLMMInputError(f"k must be between 2 and the number of {'levels of ' + group if group else 'rows'} "
                             f"({len(levels)}), got {k}")
    order = rng.permutation(len(levels))
    if stratify is not None:
        if stratify not in data.columns:
            raise GLMMInputError(f"stratify='{stratify}' is not a column used by the model")
        stratum = pd.Series(data[stratify].astype(str).to_numpy()).groupby(units).first()
        order = sorted(order, key=lambda j: stratum[levels[j]])
    assignment = {levels[j]: i % k for i, j in enumerate(order)}
    return np.array([assignment[u] for u in units])


def _fold_job(payload: dict) -> dict:
    """Fit one fold in a worker (the worker's cached compiled model) and score its held-out rows."""
    from glmm_bayes.parallel import cached_model

    model = cached_model(payload["spec"], payload["data"])
    train, test = payload["train"], payload["test"]
    posterior = model.refit(train, **payload["sampler"])
    ll = model.pointwise_loglik(posterior, test)
    return {"test": test, "elpd_i": _logmeanexp(ll), "pid": os.getpid()}


def kfold(fit, k: int = 10, group: str | None = None, stratify: str | None = None, seed: int = 0,
          draws: int | None = None, tune: int | None = None, executor: str = "auto",
          n_workers: int | None = None) -> KFold:
    """(Grouped) k-fold cross-validation, folds in parallel via :mod:`glmm_bayes.parallel`.

    With ``group="doctor"`` whole doctors are left out together — the right question
    when predictions are for new groups. Each worker compiles the model once and refits
    it for each of its folds with new data (no recompilation).
    """
    import time

    from glmm_bayes.parallel import map_jobs, register_model

    if group is not None and group not in fit.model.design.data.columns:
        raise GLMMInputError(f"group='{group}' is not a column used by the model; columns: "
                             f"{', '.join(map(str, fit.model.design.data.columns))}")
    folds = fold_ids(fit, k, group, stratify, seed)
    post = fit.posterior
    sampler = {"draws": draws or int(post.sizes["draw"]), "tune": tune or draws or int(post.sizes["draw"]),
               "chains": int(post.sizes["chain"]), "seed": seed}
    spec, data = fit.model.spec.to_toml(), fit.model.design.data
    register_model(spec, data, fit.model)  # the serial executor re-uses this process's compiled model
    payloads = [{"spec": spec, "data": data, "train": np.flatnonzero(folds != f), "test": np.flatnonzero(folds == f),
                 "sampler": dict(sampler, seed=seed + f)} for f in range(k)]
    start = time.perf_counter()
    results = map_jobs(_fold_job, payloads, executor=executor, n_workers=n_workers)
    elpd_i = np.empty(fit.model.design.n)
    for r in results:
        elpd_i[r["test"]] = r["elpd_i"]
    by_group = None
    if group is not None:
        by_group = (pd.DataFrame({group: data[group].astype(str).to_numpy(), "elpd": elpd_i})
                    .groupby(group, sort=True)["elpd"].sum().reset_index())
    n = len(elpd_i)
    return KFold(float(elpd_i.sum()), float(np.sqrt(n * np.var(elpd_i))), elpd_i, folds, by_group,
                 [r["pid"] for r in results], time.perf_counter() - start)
