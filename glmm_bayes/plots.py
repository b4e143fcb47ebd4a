"""Figures (matplotlib): predictive checks, residuals, LOO-PIT, caterpillar, conditional effects.

Every function returns a ``matplotlib.figure.Figure`` with a title and axis labels.

Example
-------
>>> # fig = plot_ppc(fit, kind="bars"); fig.savefig("ppc.png")
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from glmm_bayes.checks import _y_rep, loo_pit, quantile_residuals
from glmm_bayes.errors import GLMMInputError


def _figure(ncols: int = 1, width: float = 6.0, height: float = 4.0):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return fig, axes[0]


def plot_ppc(fit, kind: str | None = None, group: str | None = None, stat: str = "mean",
             num_samples: int = 50, seed: int | None = 0):
    """Posterior predictive check: observed data against replicated data.

    ``kind``: ``"dens"`` (continuous), ``"bars"`` (counts, binary, ordinal), ``"ecdf"``; default by family.
    ``group``: a data column; then the check compares a per-group statistic (``stat``: ``"mean"`` or
    ``"zeros"``, the proportion of zeros) observed vs its predictive interval.
    """
    design = fit.model.design
    y = design.response.y
    y_rep = _y_rep(fit, seed)
    rng = np.random.default_rng(seed)
    subset = y_rep[rng.choice(len(y_rep), size=min(num_samples, len(y_rep)), replace=False)]
    kind = kind or ("bars" if design.family.discrete else "dens")
    if group is not None:
        return _grouped_check(fit, y, y_rep, group, stat)
    fig, (ax,) = _figure()
    name = design.response.name
    if kind == "dens":
        grid = np.linspace(min(y.min(), np.percentile(y_rep, 0.5)), max(y.max(), np.percentile(y_rep, 99.5)), 200)
        for row in subset:
            ax.plot(grid, stats.gaussian_kde(row)(grid), color="C0", alpha=0.15, lw=1)
        ax.plot(grid, stats.gaussian_kde(y)(grid), color="k", lw=2, label="observed")
        ax.plot([], [], color="C0", label="replicated")
        ax.set_ylabel("density")
    elif kind == "bars":
        if design.family.nominal:  # category codes 0..K-1, labelled with the categories
            values = np.arange(len(design.response.levels))
            ax.set_xticks(values, design.response.levels)
        else:
            values = np.arange(int(min(y.min(), 0)), int(np.percentile(np.r_[y, y_rep.ravel()], 99)) + 1)
        obs = np.array([(y == v).sum() for v in values])
        rep = np.array([[(row == v).sum() for v in values] for row in y_rep[:: max(1, len(y_rep) // 400)]])
        lo, mid, hi = np.percentile(rep, [5, 50, 95], axis=0)
        ax.bar(values, obs, color="0.75", label="observed")
        ax.errorbar(values, mid, yerr=[mid - lo, hi - mid], fmt="o", color="C0", label="replicated (median, 90%)")
        ax.set_ylabel("number of rows")
    elif kind == "ecdf":
        for row in subset:
            ax.ecdf(row, color="C0", alpha=0.15)
        ax.ecdf(y, color="k", lw=2, label="observed")
        ax.plot([], [], color="C0", label="replicated")
        ax.set_ylabel("cumulative proportion")
    else:
        raise GLMMInputError(f"kind must be 'dens', 'bars' or 'ecdf', got {kind!r}")
    ax.set_xlabel(name)
    ax.set_title(f"Posterior predictive check ({kind}): {name}")
    ax.legend()
    fig.tight_layout()
    return fig


def _grouped_check(fit, y, y_rep, group: str, stat: str):
    data = fit.model.design.data
    if group not in data.columns:
        raise GLMMInputError(f"group '{group}' is not a column used by the model; choose one of "
                             f"{', '.join(map(str, data.columns))}")
    funcs = {"mean": np.mean, "zeros": lambda a: np.mean(a == 0)}
    if stat not in funcs:
        raise GLMMInputError(f"stat must be 'mean' or 'zeros', got {stat!r}")
    codes, levels = pd.factorize(data[group], sort=True)
    f = funcs[stat]
    obs = np.array([f(y[codes == k]) for k in range(len(levels))])
    rep = np.array([[f(row[codes == k]) for k in range(len(levels))] for row in y_rep[:: max(1, len(y_rep) // 400)]])
    lo, hi = np.percentile(rep, [5, 95], axis=0)
    order = np.argsort(obs)
    fig, (ax,) = _figure(width=max(6.0, 0.12 * len(levels)))
    x = np.arange(len(levels))
    ax.vlines(x, lo[order], hi[order], color="C0", alpha=0.6, label="replicated 90%")
    ax.plot(x, obs[order], "k.", label="observed")
    outside = np.mean((obs < lo) | (obs > hi))
    ax.set_title(f"Grouped check: {stat} of {fit.model.design.response.name} by {group} "
                 f"({100 * outside:.0f}% of groups outside 90%)")
    ax.set_xlabel(f"{group} (sorted by observed {stat})")
    ax.set_ylabel(stat)
    ax.legend()
    fig.tight_layout()
    return fig


def plot_residuals(fit, seed: int | None = 0):
    """Randomized quantile residuals: uniform QQ plot and residual vs predicted (rank-transformed)."""
    r = quantile_residuals(fit, seed)
    fitted = fit.predict(kind="mean").to_numpy()[:, 0]
    fig, (ax1, ax2) = _figure(ncols=2, width=5.0)
    n = len(r)
    ax1.plot(np.arange(1, n + 1) / (n + 1), np.sort(r), ".", ms=3)
    ax1.plot([0, 1], [0, 1], "k--", lw=1)
    ks = stats.kstest(r, "uniform")
    ax1.set_title(f"QQ plot of quantile residuals (KS p = {ks.pvalue:.3g})")
    ax1.set_xlabel("expected (uniform)")
    ax1.set_ylabel("observed residual")
    ax2.plot(stats.rankdata(fitted) / n, r, ".", ms=3, alpha=0.5)
    for q in (0.25, 0.5, 0.75):
        ax2.axhline(q, color="k", lw=0.8, ls=":")
    ax2.set_title("Residual vs predicted")
    ax2.set_xlabel("predicted mean (rank-transformed)")
    ax2.set_ylabel("quantile residual")
    fig.tight_layout()
    return fig


def plot_loo_pit(fit, seed: int | None = 0):
    """ECDF of LOO-PIT values minus the uniform ECDF, with a 95% simultaneous-ish band."""
    pit = np.sort(loo_pit(fit, seed))
    n = len(pit)
    grid = np.linspace(0, 1, 201)
    ecdf = np.searchsorted(pit, grid, side="right") / n
    band = 1.36 / np.sqrt(n)  # Kolmogorov-Smirnov 95 % band
    fig, (ax,) = _figure()
    ax.fill_between(grid, -band, band, color="0.85", label="95% band (uniform)")
    ax.plot(grid, ecdf - grid, color="C0", label="LOO-PIT ECDF − uniform")
    ax.axhline(0, color="k", lw=0.8)
    ax.set_title("LOO-PIT calibration")
    ax.set_xlabel("PIT value")
    ax.set_ylabel("ECDF difference")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_caterpillar(fit, group: str | None = None, column: str | None = None, prob: float = 0.95):
    """Group-level effects of one grouping factor, sorted, with credible intervals.

    ``column`` defaults to the group's first effect (usually ``Intercept``)."""
    r = fit.ranef(prob=prob)
    if r.empty:
        raise GLMMInputError("this model has no group-level effects")
    group = group or r["group"].iloc[0]
    if column is None:
        column = r.loc[r["group"] == group, "column"].iloc[0] if (r["group"] == group).any() else "Intercept"
    sel = r[(r["group"] == group) & (r["column"] == column)]
    if sel.empty:
        raise GLMMInputError(f"no group-level effect '{column}' for '{group}'; available: "
                             f"{sorted(set(zip(r['group'], r['column'])))}")
    sel = sel.sort_values("mean")
    lo, hi = sel.columns[-2], sel.columns[-1]
    fig, (ax,) = _figure(height=max(3.0, min(12.0, 0.15 * len(sel))))
    y = np.arange(len(sel))
    ax.hlines(y, sel[lo], sel[hi], color="C0", alpha=0.6)
    ax.plot(sel["mean"], y, "k.", ms=3)
    ax.axvline(0, color="k", lw=0.8, ls="--")
    if len(sel) <= 40:
        ax.set_yticks(y, sel["level"])
    else:
        ax.set_yticks([])
    ax.set_title(f"Group-level effects: {column} by {group} ({100 * prob:g}% intervals)")
    ax.set_xlabel(f"effect on the linear predictor ({fit.model.design.link} scale)")
    ax.set_ylabel(f"{group} ({len(sel)} levels, sorted)")
    fig.tight_layout()
    return fig


def plot_khat(fit):
    """Pareto k of each observation's PSIS-LOO weights, with the 0.7 threshold."""
    k = np.asarray(fit.loo().pareto_k).ravel()
    fig, (ax,) = _figure()
    ax.plot(np.arange(len(k)), k, ".", ms=4)
    ax.axhline(0.7, color="C3", ls="--", label="k = 0.7")
    ax.set_title(f"PSIS-LOO Pareto k ({int(np.sum(k > 0.7))} observations above 0.7)")
    ax.set_xlabel("observation")
    ax.set_ylabel("Pareto k")
    ax.legend()
    fig.tight_layout()
    return fig
