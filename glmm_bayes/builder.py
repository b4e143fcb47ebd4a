"""``Design`` + ``PriorSet`` → ``pm.Model`` with named coordinates.

Graph layout (variable names are the contract between this module and :mod:`glmm_bayes.fit`):

* ``b`` — fixed effects, dims ``b_coef`` (one vector when every coefficient's
  prior has the same family; otherwise one vector ``b__<dist>`` per prior family);
* per group-level block ``key``: ``z_<key>`` standard normal, dims
  (``<key>__level``, ``<key>__coef``) — non-centred; ``sd_<key>`` (dims
  ``<key>__coef``); for a correlated block also ``chol_<key>`` (LKJ Cholesky
  covariance) and ``cor_<key>``; the effects are ``u = z · diag(sd) Lᵀ``
  (``u = z · sd`` when uncorrelated), indexed per row by ``idx_<key>``;
* family parameters by name (``sigma``, ``alpha``, ``shape``);
* the likelihood ``y`` (dims ``obs``); data in ``pm.Data`` containers
  (``X``, ``idx_<key>``, ``Z_<key>``, ``y_obs``, ``trials``) so a compiled
  model can be re-used with new values.

Example
-------
>>> import pandas as pd
>>> from glmm_bayes.design import make_design
>>> from glmm_bayes.priors import resolve_priors
>>> df = pd.DataFrame({"y": [1., 2., 4., 3., 5., 7.], "g": list("aabbcc")})
>>> d = make_design("y ~ 1 + (1 | g)", df)
>>> m = build_model(d, resolve_priors(d))
>>> sorted(v.name for v in m.free_RVs)
['b', 'sd_g', 'sigma', 'z_g']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from glmm_bayes.design import Design, GroupBlock
from glmm_bayes.priors import PriorSet, vector_prior

OBS = "obs"


@dataclass(frozen=True)
class ParamRef:
    """Where a labelled parameter lives in the posterior: variable name and coordinate selection."""

    label: str
    var: str
    sel: tuple[tuple[str, str], ...] = ()


def fixed_groups(priors: PriorSet) -> dict[str, list[str]]:
    """Fixed-effect columns grouped by prior family: ``{"b": cols}`` or ``{"b__normal": ..., ...}``."""
    by_dist: dict[str, list[str]] = {}
    for col, prior in priors.fixed.items():
        by_dist.setdefault(prior.dist, []).append(col)
    if len(by_dist) <= 1:
        return {"b": list(priors.fixed)} if priors.fixed else {}
    return {f"b__{dist}": cols for dist, cols in by_dist.items()}


def parameter_refs(design: Design, priors: PriorSet) -> list[ParamRef]:
    """Every population-level parameter with its brms-style label (DESIGN.md §2)."""
    refs = []
    for var, cols in fixed_groups(priors).items():
        refs += [ParamRef(f"b_{c}", var, ((f"{var}_coef", c),)) for c in cols]
    for block in design.blocks:
        coef = f"{block.key}__coef"
        refs += [ParamRef(f"sd_{block.label}__{c}", f"sd_{block.key}", ((coef, c),)) for c in block.columns]
        if block.correlated:
            cols = block.columns
            refs += [ParamRef(f"cor_{block.label}__{a}__{b}", f"cor_{block.key}",
                              ((coef, a), (f"{coef}_bis", b)))
                     for i, a in enumerate(cols) for b in cols[i + 1:]]
    refs += [ParamRef(name, name) for name in priors.aux]
    return refs


def build_model(design: Design, priors: PriorSet):
    """Build the PyMC model (see module docstring for the variable layout)."""
    import pymc as pm
    import pytensor.tensor as pt

    coords = {OBS: np.arange(design.n)}
    groups = fixed_groups(priors)
    if groups:
        coords["X_column"] = design.X_columns
    for var, cols in groups.items():
        coords[f"{var}_coef"] = cols
    for block in design.blocks:
        coords[f"{block.key}__level"] = block.levels
        coords[f"{block.key}__coef"] = block.columns
        if block.correlated:
            coords[f"{block.key}__coef_bis"] = block.columns

    with pm.Model(coords=coords) as model:
        eta = pt.zeros(design.n) if not groups else 0.0
        if groups:
            X = pm.Data("X", design.X, dims=(OBS, "X_column"))
            for var, cols in groups.items():
                b = vector_prior(var, [priors.fixed[c] for c in cols], dims=f"{var}_coef")
                idx = [design.X_columns.index(c) for c in cols]
                eta = eta + (pt.dot(X, b) if var == "b" else pt.dot(X[:, idx], b))
        for block in design.blocks:
            eta = eta + _group_effects(block, priors)
        aux = {name: prior.pymc_class()(name, **prior.kwargs()) for name, prior in priors.aux.items()}
        dtype = "int64" if design.family.discrete else "float64"
        observed = pm.Data("y_obs", design.response.y.astype(dtype), dims=OBS)
        trials = None
        if design.response.trials is not None:
            trials = pm.Data("trials", design.response.trials.astype("int64"), dims=OBS)
        design.family.likelihood("y", eta, design.link, aux, observed, trials, OBS)
    return model


def data_arrays(design: Design, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Values of every ``pm.Data`` container for the given rows (all rows if None).

    Swapping these into a compiled model (nutpie ``with_data`` or ``pm.set_data``) refits or
    evaluates on a subset of rows without rebuilding or recompiling anything.
    """
    sel = slice(None) if rows is None else np.asarray(rows)
    out = {}
    if design.X_columns:
        out["X"] = design.X[sel]
    for block in design.blocks:
        out[f"idx_{block.key}"] = block.codes[sel]
        if not block.intercept_only:
            out[f"Z_{block.key}"] = block.Z[sel]
    dtype = "int64" if design.family.discrete else "float64"
    out["y_obs"] = design.response.y[sel].astype(dtype)
    if design.response.trials is not None:
        out["trials"] = design.response.trials[sel].astype("int64")
    return out


def _group_effects(block: GroupBlock, priors: PriorSet):
    """Non-centred group-level effects of one block, gathered per row."""
    import pymc as pm

    key, k = block.key, len(block.columns)
    level_dim, coef_dim = f"{key}__level", f"{key}__coef"
    idx = pm.Data(f"idx_{key}", block.codes, dims=OBS)
    z = pm.Normal(f"z_{key}", 0.0, 1.0, dims=(level_dim, coef_dim))
    sd_prior = priors.sd[key]
    if block.correlated:
        sd_dist = sd_prior.pymc_class().dist(**sd_prior.kwargs(), shape=k)
        chol, corr, stds = pm.LKJCholeskyCov(f"chol_{key}", n=k, eta=priors.cor[key].args[0],
                                             sd_dist=sd_dist, compute_corr=True, store_in_trace=False)
        pm.Deterministic(f"sd_{key}", stds, dims=coef_dim)
        pm.Deterministic(f"cor_{key}", corr, dims=(coef_dim, f"{coef_dim}_bis"))
        u = z @ chol.T
    else:
        sd = vector_prior(f"sd_{key}", [sd_prior] * k, dims=coef_dim)
        u = z * sd
    if block.intercept_only:
        return u[idx, 0]
    Z = pm.Data(f"Z_{key}", block.Z, dims=(OBS, coef_dim))
    return (u[idx] * Z).sum(axis=1)
