"""Model comparison: PSIS-LOO (ArviZ), WAIC from the pointwise log-likelihood, and ``compare``.

ArviZ 1.x has no WAIC, so :func:`waic` computes it (Watanabe 2010; Vehtari,
Gelman & Gabry 2017): ``elpd_waic = lppd - p_waic`` with ``lppd_i = log mean_s
p(y_i | θ_s)`` and ``p_waic_i = var_s log p(y_i | θ_s)``; its standard error is
``sqrt(n · var_i(elpd_waic_i))``.

Observations whose Pareto k is too high for PSIS get either exact refits (:func:`reloo`) or moment
matching (:func:`loo_moment_match`, Paananen et al. 2021: the draws are adapted, nothing is resampled).

Example
-------
>>> # result = compare({"poisson": fit1, "negbin": fit2})
>>> # result.table      # model, elpd_loo, se, elpd_diff, dse, p_loo, weight, n_high_pareto_k
>>> # result.reading    # "negbin is better than poisson by 12.3 ± 4.1 elpd (about 3.0 SE)."
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from glmm_bayes.errors import GLMMInputError, warn_user

PARETO_K_MAX = 0.7
COMPARE_COLUMNS = ["model", "elpd_loo", "se", "elpd_diff", "dse", "p_loo", "weight", "n_high_pareto_k"]
KFOLD_COLUMNS = ["model", "elpd_kfold", "se", "elpd_diff", "dse", "p_kfold", "weight"]


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
        warn_user(f"{result.n_high_p} observation(s) have p_waic > 0.4: WAIC may be unreliable; "
                  f"prefer PSIS-LOO (fit.loo()).", UserWarning)
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

    ``fits`` maps model names to :class:`~glmm_bayes.fit.Fit` objects fitted to the same rows, or to
    :class:`KFold` results (``fit.kfold(...)``, one per model, best with the same ``k``, ``group`` and
    ``seed`` so every model leaves out the same folds); then the table has ``elpd_kfold`` and ``p_kfold``
    columns and no Pareto k. Fits and k-fold results cannot be mixed.

    >>> # compare({"poisson": fit1.kfold(k=10, group="g"), "negbin": fit2.kfold(k=10, group="g")})
    """
    import arviz as az

    if ic != "loo":
        raise GLMMInputError(f"ic must be 'loo' (ArviZ 1.x compares by PSIS-LOO), got {ic!r}")
    if not isinstance(fits, dict) or len(fits) < 2:
        raise GLMMInputError("compare needs a dict of at least two fits, e.g. {'m1': fit1, 'm2': fit2}")
    kfolds = [name for name, value in fits.items() if isinstance(value, KFold)]
    if kfolds:
        if len(kfolds) < len(fits):
            raise GLMMInputError(
                f"compare got k-fold results ({', '.join(kfolds)}) and fits "
                f"({', '.join(n for n in fits if n not in kfolds)}); elpd_kfold and elpd_loo estimate the same "
                f"quantity differently, so compare either fits (PSIS-LOO) or a fit.kfold(...) result of every model")
        return _compare_kfold(fits, method)
    sizes = {name: fit.model.design.n for name, fit in fits.items()}
    if len(set(sizes.values())) > 1:
        raise GLMMInputError(f"models were fitted to different numbers of rows ({sizes}); LOO comparison "
                             f"needs the same observations in every model")
    check_same_outcomes({name: fit.model.design for name, fit in fits.items()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loos = {name: fit.loo() for name, fit in fits.items()}
        table = az.compare({name: fit.loo_data() for name, fit in fits.items()}, method=method, round_to="none")
    out = _table_of(table, "loo")
    out["n_high_pareto_k"] = [int(np.sum(np.asarray(loos[m].pareto_k) > PARETO_K_MAX)) for m in table.index]
    return Comparison(out[COMPARE_COLUMNS], _reading(out))


def _table_of(table: pd.DataFrame, criterion: str) -> pd.DataFrame:
    """ArviZ's comparison table in this package's columns (``elpd_<criterion>``, ``p_<criterion>``)."""
    return pd.DataFrame({
        "model": table.index,
        f"elpd_{criterion}": table["elpd"].to_numpy(float),
        "se": table["se"].to_numpy(float),
        "elpd_diff": table["elpd_diff"].to_numpy(float),
        "dse": table["dse"].to_numpy(float),
        f"p_{criterion}": table["p"].to_numpy(float),
        "weight": table["weight"].to_numpy(float),
    })


def _compare_kfold(results: dict, method: str) -> Comparison:
    """:func:`compare` for :class:`KFold` results: ArviZ's comparison of their pointwise elpd_kfold."""
    import arviz as az

    sizes = {name: len(r.elpd_i) for name, r in results.items()}
    if len(set(sizes.values())) > 1:
        raise GLMMInputError(f"the k-fold results cover different numbers of rows ({sizes}); compare needs the "
                             f"same observations in every model")
    designs = {name: r.design for name, r in results.items() if r.design is not None}
    if len(designs) == len(results):
        check_same_outcomes(designs)
    (first, ref), *rest = results.items()
    other_folds = [name for name, r in rest if not np.array_equal(r.fold, ref.fold)]
    if other_folds:
        warn_user(f"{', '.join(other_folds)} left out other folds than {first}: the elpd differences are "
                  f"noisier; run kfold with the same k, group and seed for every model", UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare({name: r.elpd_data() for name, r in results.items()}, method=method, round_to="none")
    out = _table_of(table, "kfold")
    return Comparison(out[KFOLD_COLUMNS], _reading(out))


def check_same_outcomes(designs: dict) -> None:
    """LOO values of models are comparable only on the same observations: same outcome values, trials and
    censoring status per row. ``designs`` maps model names to their :class:`~glmm_bayes.design.Design`
    (checked before any sampling by ``glmm-bayes compare``)."""
    (first, ref), *rest = designs.items()
    for name, design in rest:
        differ = [] if design.n == ref.n else ["row count"]
        for part, what in (("y", "outcome values"), ("trials", "trials"), ("status", "censoring status")):
            a, b = getattr(design.response, part), getattr(ref.response, part)
            if not differ and ((a is None) != (b is None) or (
                    a is not None and not np.array_equal(np.asarray(a, float), np.asarray(b, float)))):
                differ.append(what)
        if differ:
            raise GLMMInputError(
                f"models '{first}' and '{name}' were fitted to different observations ({', '.join(differ)} differ); "
                f"LOO compares predictions of the same observations, so fit every model to the same outcome, rows "
                f"and censoring")


def _reading(table: pd.DataFrame) -> str:
    best, second = table.iloc[0], table.iloc[1]
    diff, dse = abs(float(second["elpd_diff"])), float(second["dse"])
    weight = f" (stacking weight {best['weight']:.2f})."
    if dse == 0 and diff == 0:  # identical pointwise elpd: the same model twice
        text = f"{best['model']} and {second['model']} predict identically (elpd difference 0){weight}"
    else:
        ratio = diff / dse if dse > 0 else float("inf")
        strength = ("clearly" if ratio >= 4 else "probably" if ratio >= 2 else "not clearly")
        text = (f"{best['model']} is better than {second['model']} by {diff:.1f} ± {dse:.1f} elpd; the difference "
                f"is about {ratio:.1f} SE, so {best['model']} is {strength} the better predictor{weight}")
    flagged = table.loc[table["n_high_pareto_k"] > 0, "model"].tolist() if "n_high_pareto_k" in table else []
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
        loo = az.loo(fit.loo_data(), pointwise=True)  # observation-level effects integrated out, as fit.loo()
        wrapper = sampling_wrapper(fit, draws=draws, seed=seed)
        start = time.perf_counter()
        result = az.reloo(wrapper, loo_orig=loo, k_threshold=k_threshold, pointwise=True)
    result.n_refits = getattr(wrapper, "n_refits", 0)
    result.refit_seconds = time.perf_counter() - start
    return result


# ---------------------------------------------------------------- moment matching (no refits)
@dataclass
class UnconstrainedPosterior:
    """A fit's posterior on the unconstrained (sampling) space, with compiled log densities there.

    ``upars`` holds the draws (chain, draw, ``unconstrained_parameter``), columns in the order of
    ``model.value_vars`` (each flattened in C order). ``log_prob(q)`` is the joint log density
    (prior + likelihood + log-Jacobian: what ``model.compile_logp()`` computes) and ``log_lik(q)`` the
    pointwise log-likelihood, both for a matrix ``q`` of unconstrained draws (draws, parameters),
    vectorised over draws; ``point(q_row)`` is the PyMC point (dict by value-variable name) of one row.
    """

    upars: xr.DataArray  # noqa: F821 (annotation only; xarray is imported where it is needed)
    value_vars: list[str]
    shapes: list[tuple[int, ...]]
    log_prob: Callable[[np.ndarray], np.ndarray]
    log_lik: Callable[[np.ndarray], np.ndarray]

    def point(self, row: np.ndarray) -> dict[str, np.ndarray]:
        out, start = {}, 0
        for name, shape in zip(self.value_vars, self.shapes):
            size = int(np.prod(shape, dtype=int))
            out[name] = np.asarray(row[start:start + size], dtype=float).reshape(shape)
            start += size
        return out

    def log_prob_upars(self, upars):
        """``log_prob_upars_fn`` of :func:`arviz_stats.loo_moment_match`: DataArray (chain, draw)."""
        return self._per_draw(upars, lambda q: self.log_prob(q))

    def log_lik_i_upars(self, upars, i):
        """``log_lik_i_upars_fn`` of :func:`arviz_stats.loo_moment_match`: DataArray (chain, draw)."""
        return self._per_draw(upars, lambda q: self.log_lik(q)[:, int(i)])

    @staticmethod
    def _per_draw(upars, fn):
        import xarray as xr

        upars = upars.transpose("chain", "draw", ...)
        chains, draws = upars.sizes["chain"], upars.sizes["draw"]
        flat = np.ascontiguousarray(upars.values.reshape(chains * draws, -1), dtype=float)
        return xr.DataArray(np.asarray(fn(flat)).reshape(chains, draws), dims=("chain", "draw"),
                            coords={"chain": upars["chain"], "draw": upars["draw"]})


def unconstrained_posterior(fit) -> UnconstrainedPosterior:
    """Map ``fit``'s draws to the unconstrained space and compile the densities moment matching needs.

    Each free variable's draws go through its PyMC transform's ``forward`` (log for scales,
    the packed-Cholesky transform for ``chol_<key>``, identity for untransformed ones); the log
    densities are ``model.logp()`` (with Jacobian) and the elementwise ``model.logp(vars=observed,
    sum=False)`` on the value variables, vectorised over draws with ``vectorize_graph``. ``log_lik``
    evaluates every row (draws × rows work per call), which is what moment matching calls per iteration.
    """
    import pytensor
    import pytensor.tensor as pt
    import xarray as xr
    from pytensor.graph import vectorize_graph
    from pytensor.graph.replace import graph_replace

    model = fit.model.pymc_model
    posterior = fit.posterior.transpose("chain", "draw", ...)
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    initial = model.initial_point()
    value_vars = list(model.value_vars)
    if model.discrete_value_vars or model.potentials:
        raise GLMMInputError("moment matching needs a model with continuous parameters and no potentials; "
                             "use loo(reloo=True) instead")
    shapes = [tuple(initial[v.name].shape) for v in value_vars]
    sizes = [int(np.prod(s, dtype=int)) for s in shapes]
    n_draws = chains * draws

    # constrained draws -> unconstrained, one vectorised graph over all variables
    rvs = [model.values_to_rvs[v] for v in value_vars]
    missing = [rv.name for rv in rvs if rv.name not in posterior]
    if missing:
        raise GLMMInputError(f"the posterior lacks {', '.join(missing)}; cannot map it to the unconstrained space")
    constrained = {rv: rv.type(name=f"{rv.name}_value") for rv in rvs}
    forward = []
    for rv in rvs:
        transform = model.rvs_to_transforms.get(rv)
        forward.append(constrained[rv] if transform is None
                       else transform.forward(constrained[rv], *rv.owner.inputs))
    # transform parameters that depend on other free variables use their drawn values
    forward = graph_replace(forward, constrained, strict=False)
    blocks = [pt.matrix(f"{rv.name}_draws", dtype="float64") for rv in rvs]
    batched = vectorize_graph(forward, {constrained[rv]: b.reshape((b.shape[0], *posterior[rv.name].shape[2:]))
                                        for rv, b in zip(rvs, blocks)})
    to_unc = pytensor.function(blocks, pt.concatenate([o.reshape((o.shape[0], -1)) for o in batched], axis=1),
                               on_unused_input="ignore")
    upars = to_unc(*[np.ascontiguousarray(posterior[rv.name].values.reshape(n_draws, -1), dtype=float)
                     for rv in rvs])
    if upars.shape[1] != sum(sizes):
        raise GLMMInputError("the unconstrained draws do not match the model's value variables")
    labels = [v.name if size == 1 and not shape else f"{v.name}[{','.join(map(str, idx))}]"
              for v, shape, size in zip(value_vars, shapes, sizes) for idx in np.ndindex(*shape)]

    # log densities of a matrix q (draws, parameters) of unconstrained values
    q = pt.matrix("upars", dtype="float64")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    replace = {v: q[:, starts[j]:starts[j + 1]].reshape((q.shape[0], *shapes[j])) for j, v in enumerate(value_vars)}
    logp, loglik = vectorize_graph([model.logp(jacobian=True, sum=True),
                                    model.logp(vars=model.observed_RVs, sum=False)[0]], replace)
    log_prob = pytensor.function([q], logp, on_unused_input="ignore")
    log_lik = pytensor.function([q], loglik.reshape((q.shape[0], -1)), on_unused_input="ignore")
    da = xr.DataArray(upars.reshape(chains, draws, -1), dims=("chain", "draw", "unconstrained_parameter"),
                      coords={"chain": posterior["chain"], "draw": posterior["draw"],
                              "unconstrained_parameter": labels})
    return UnconstrainedPosterior(da, [v.name for v in value_vars], shapes, log_prob, log_lik)


def loo_moment_match(fit, k_threshold: float = PARETO_K_MAX, max_iters: int = 30, split: bool = True,
                     cov: bool = True, pointwise: bool = True):
    """PSIS-LOO with moment matching (Paananen et al. 2021) for observations with Pareto k > ``k_threshold``.

    Instead of refitting (:func:`reloo`), the posterior draws of each such observation are moved on
    the unconstrained space — shifted, scaled and rotated — to match the moments of its leave-one-out
    posterior, and re-weighted with the exact densities, via :func:`arviz_stats.loo_moment_match`.
    The log posterior and the observation's log-likelihood at the moved draws come from the fit's
    own PyMC model (:func:`unconstrained_posterior`), so nothing is resampled.

    Returns the ArviZ ELPD object with ``n_moment_matched`` (observations that had k > threshold
    and were moment-matched), ``n_high_k`` (observations still above it afterwards: use
    ``reloo`` for those), ``moment_match_seconds`` and ``influence_pareto_k`` (the k before
    matching) added.

    Models with an observation-level random effect are refused: their LOO uses the integrated
    log-likelihood, which is not the likelihood term of the sampled joint density.

    Example
    -------
    >>> # loo = fit.loo(moment_match=True)       # or loo_moment_match(fit)
    >>> # loo.n_moment_matched, loo.n_high_k     # e.g. (1, 0)
    >>> # loo.influence_pareto_k[5], loo.pareto_k[5]   # k of row 5 before / after, e.g. 0.98 -> 0.35
    """
    import time

    import arviz as az
    from arviz_stats import loo_moment_match as az_moment_match

    from glmm_bayes.predict import observation_level_blocks

    olre = observation_level_blocks(fit.model.design)
    if olre:
        raise GLMMInputError(
            f"moment matching is not available for models with an observation-level random effect "
            f"({', '.join(b.label for b in olre)}): their LOO uses the log-likelihood with that effect integrated "
            f"out, which the sampled posterior's density does not contain. Use fit.loo() (integrated PSIS-LOO) "
            f"or fit.loo(reloo=True) instead.")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loo = az.loo(fit.ensure_log_likelihood(), pointwise=True)
    k_before = np.asarray(loo.pareto_k).ravel()
    n_bad = int(np.sum(k_before > k_threshold))
    if n_bad == 0:
        result = loo
        result.influence_pareto_k = loo.pareto_k.copy()
    else:
        unc = unconstrained_posterior(fit)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = az_moment_match(fit.idata, loo, log_prob_upars_fn=unc.log_prob_upars,
                                     log_lik_i_upars_fn=unc.log_lik_i_upars, upars=unc.upars, var_name="y",
                                     max_iters=max_iters, k_threshold=k_threshold, split=split, cov=cov,
                                     pointwise=True)
    result.n_moment_matched = n_bad
    result.n_high_k = int(np.sum(np.asarray(result.pareto_k) > k_threshold))
    result.moment_match_seconds = time.perf_counter() - start
    if result.n_high_k:
        warn_user(f"after moment matching {result.n_high_k} observation(s) still have Pareto k > "
                  f"{k_threshold}: their elpd is unreliable; use fit.loo(reloo=True) for exact refits.",
                  UserWarning)
    if not pointwise:
        for name in ("elpd_i", "pareto_k", "influence_pareto_k", "p_loo_i", "n_eff_i"):
            if hasattr(result, name):
                setattr(result, name, None)
    return result


@dataclass
class KFold:
    """k-fold cross-validation result: ``elpd`` (sum of pointwise), its ``se``, and per-row/per-group terms.

    ``p`` is the effective number of parameters as the loo package defines it for k-fold: the full-data
    log pointwise predictive density minus ``elpd``. Results of several models go into :func:`compare`.
    """

    elpd: float
    se: float
    elpd_i: np.ndarray
    fold: np.ndarray
    by_group: pd.DataFrame | None
    pids: list[int]
    seconds: float
    p: float = float("nan")
    p_i: np.ndarray | None = None
    n_samples: int = 0
    design: object = field(default=None, repr=False)  # the model's Design: compare checks the outcomes

    def __str__(self) -> str:
        return (f"elpd_kfold {self.elpd:.2f} (SE {self.se:.2f}), p_kfold {self.p:.1f}, over "
                f"{len(np.unique(self.fold))} folds")

    def elpd_data(self):
        """The result as ArviZ's ``ELPDDataLOOKFold`` (what ``arviz.compare`` takes)."""
        import xarray as xr
        from arviz_stats.utils import ELPDDataLOOKFold

        n = len(self.elpd_i)
        p_i = None if self.p_i is None else xr.DataArray(self.p_i, dims=["obs"])
        return ELPDDataLOOKFold(elpd=self.elpd, se=self.se, p=self.p, n_samples=self.n_samples, n_data_points=n,
                                scale="log", warning=False, good_k=None, elpd_i=xr.DataArray(self.elpd_i, dims=["obs"]),
                                n_folds=len(np.unique(self.fold)), p_kfold_i=p_i)


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
    p_i = _logmeanexp(pointwise_loglik(fit.loo_data())) - elpd_i  # full-data lpd_i minus elpd_kfold_i
    return KFold(float(elpd_i.sum()), float(np.sqrt(n * np.var(elpd_i))), elpd_i, folds, by_group,
                 [r["pid"] for r in results], time.perf_counter() - start, p=float(p_i.sum()), p_i=p_i,
                 n_samples=int(post.sizes["chain"] * post.sizes["draw"]), design=fit.model.design)
