"""Simulation-based calibration (Talts et al. 2018; Modrák et al. 2023).

For each replicate: draw parameters θ̃ from the prior, data ỹ from the likelihood
(on the model's own design), fit the model to ỹ and record the rank of θ̃ among
the (thinned) posterior draws. A calibrated sampler gives uniform ranks for every
parameter. Refits re-use one compiled model (new ``y_obs`` values, no recompilation);
replicates can run through :mod:`glmm_bayes.parallel`.

``fit_priors`` lets the fitted model use different priors from the generating one:
a deliberately wrong prior scale must show up as non-uniform ranks (the test of the test).

Example
-------
>>> # result = sbc(spec, n_sims=200, draws=200, seed=1)
>>> # result.tests                 # chi-square uniformity p-value per parameter
>>> # result.plot()                # rank ECDF differences with 95 % bands
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from glmm_bayes.builder import parameter_refs
from glmm_bayes.errors import GLMMInputError


@dataclass
class SBCResult:
    """Ranks (replicate × parameter, each in 0..draws), the number of draws they rank among, and tests."""

    ranks: pd.DataFrame
    n_draws: int
    seconds: float

    @property
    def tests(self) -> pd.DataFrame:
        """Chi-square test of uniform ranks per parameter (bins chosen for ≥ 5 expected counts)."""
        n = len(self.ranks)
        bins = int(max(2, min(20, n // 5)))
        rows = []
        for param in self.ranks.columns:
            counts = np.histogram(self.ranks[param], bins=bins, range=(0, self.n_draws + 1))[0]
            chi2 = stats.chisquare(counts)
            rows.append({"param": param, "chi2": chi2.statistic, "p_value": chi2.pvalue, "bins": bins})
        return pd.DataFrame(rows)

    def min_p_value(self) -> float:
        """Smallest per-parameter p-value, Bonferroni-adjusted over parameters."""
        p = self.tests["p_value"].to_numpy()
        return float(min(1.0, p.min() * len(p)))

    def plot(self):
        """ECDF of normalised ranks minus the uniform CDF per parameter, with a 95 % band."""
        import matplotlib.pyplot as plt

        n = len(self.ranks)
        grid = np.linspace(0, 1, 101)
        band = 1.36 / np.sqrt(n)
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.fill_between(grid, -band, band, color="0.85", label="95% band")
        for param in self.ranks.columns:
            u = np.sort(self.ranks[param].to_numpy() / (self.n_draws + 1))
            ax.plot(grid, np.searchsorted(u, grid, side="right") / n - grid, label=param, lw=1)
        ax.set_title(f"SBC rank ECDF difference ({n} replicates)")
        ax.set_xlabel("normalised rank")
        ax.set_ylabel("ECDF − uniform")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        return fig


def _labelled(draws_posterior, refs) -> dict[str, np.ndarray]:
    """Flatten labelled parameters from a posterior/prior Dataset into {label: (n_draws,)}."""
    out = {}
    for ref in refs:
        da = draws_posterior[ref.var]
        if ref.sel:
            da = da.sel(dict(ref.sel))
        out[ref.label] = da.values.reshape(-1)
    return out


def _replicate(payload: dict) -> dict:
    from glmm_bayes.parallel import cached_model

    fit_model = cached_model(payload["fit_spec"], payload["data"])
    rng_seed = payload["seed"]
    truth, y = payload["truth"], payload["y"]
    import nutpie

    compiled = fit_model.compiled_with_data(y=y)
    post = nutpie.sample(compiled, draws=payload["draws"], tune=payload["tune"], chains=1, seed=rng_seed,
                         progress_bar=False, save_warmup=False, cores=1)
    draws = _labelled(post["posterior"].to_dataset(), parameter_refs(fit_model.design, fit_model.prior_set))
    thin = payload["thin"]
    ranks = {k: int(np.sum(draws[k][::thin] < truth[k])) for k in truth}
    return {"ranks": ranks, "pid": os.getpid()}


def sbc(model, n_sims: int = 100, draws: int = 200, tune: int = 200, thin: int = 1, seed: int = 0,
        fit_priors: dict[str, str] | None = None, executor: str = "serial", n_workers: int | None = None) -> SBCResult:
    """Run SBC for a :class:`~glmm_bayes.GLMM` or a :class:`~glmm_bayes.ModelSpec` (with its data).

    The generating model's design (rows, covariates, groups) is kept; only the outcome is
    simulated. ``fit_priors`` (prior keys as in ``GLMM``) overrides priors in the fitted model.
    """
    import time

    from glmm_bayes.glmm import GLMM
    from glmm_bayes.parallel import map_jobs, register_model
    from glmm_bayes.spec import ModelSpec

    if isinstance(model, ModelSpec):
        model = GLMM.from_spec(model)
    if not isinstance(model, GLMM):
        raise GLMMInputError("sbc needs a GLMM or a ModelSpec")
    if n_sims < 2 or draws < 10:
        raise GLMMInputError("sbc needs n_sims >= 2 and draws >= 10")
    spec = model.spec.to_toml()
    data = model.design.data
    fit_spec_obj = ModelSpec.from_toml_string(spec)
    fit_spec_obj.priors = {**fit_spec_obj.priors, **(fit_priors or {})}
    fit_spec = fit_spec_obj.to_toml()
    register_model(spec, data, model)
    start = time.perf_counter()
    # all prior draws and simulated data sets at once: one compiled forward sampler, not one per replicate
    prior = model.prior_predictive(draws=n_sims, seed=seed)
    truth = _labelled(prior["prior"].to_dataset(), parameter_refs(model.design, model.prior_set))
    ys = prior["prior_predictive"]["y"].values.reshape(n_sims, -1)
    payloads = [{"fit_spec": fit_spec, "data": data, "seed": seed * 100003 + i, "draws": draws,
                 "tune": tune, "thin": thin, "truth": {k: float(v[i]) for k, v in truth.items()}, "y": ys[i]}
                for i in range(n_sims)]
    results = map_jobs(_replicate, payloads, executor=executor, n_workers=n_workers)
    ranks = pd.DataFrame([r["ranks"] for r in results])
    return SBCResult(ranks, len(range(0, draws, thin)), time.perf_counter() - start)
