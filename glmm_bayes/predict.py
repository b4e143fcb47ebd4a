"""Predictions from a fit: three kinds × three ways of treating group-level effects.

``kind``: ``"linear"`` (η), ``"mean"`` (E[y] on the response scale), ``"pps"``
(posterior predictive draws of y); ordinal and categorical models also ``"probs"``. A categorical model's
``"mean"``, ``"probs"``, ``"pps"`` and ``"linear"`` (each category's η against the reference) are long tables
with one row per (obs, category). Rows carry newdata's index, or without newdata the fitting data's own
labels of the rows kept (``na_action="drop"``). ``re="none"`` and ``re="marginal"`` need no grouping columns.

``re``:

* ``"conditional"`` — each row's own group effects. A row whose level was not
  in the training data gets effects drawn from the estimated population
  distribution N(0, Σ) per posterior draw (respecting the correlation), never
  zero; ``allow_new_levels=False`` makes that an error.
* ``"none"`` — group effects set to zero: the "typical group".
* ``"marginal"`` — population-averaged: the group effects integrated out per
  posterior draw, ``E[y|x] = ∫ g⁻¹(xβ + zᵀu) N(u; 0, Σ) du``. The random part
  ``r = Σ_blocks z_bᵀ u_b`` of a row is a sum of independent Gaussians, hence
  exactly ``N(0, v)`` with ``v = Σ_b z_bᵀ Σ_b z_b`` — so the integral is
  one-dimensional whatever the number of group-level terms and is computed by
  Gauss–Hermite quadrature. The number of nodes adapts to the largest random
  sd ``sqrt(v)``: 40 up to 2.5, 100 up to 5, 200 beyond. Measured worst-case
  absolute error for the probit link (the steepest; closed form
  Φ(η/√(1+v))) over η in [-3, 3]: 8e-7 at sd 2.5, 3e-7 at sd 4, 2e-4 at sd 6,
  2e-3 at sd 10 (a logit-scale sd of 6 means groups differ by odds ratios of
  e^12 and is rare in practice). For the log link the quadrature matches
  exp(η + v/2) to 1e-4 relative. For ``kind="pps"`` marginal draws use fresh
  group effects for every row.

Example
-------
>>> # p = fit.predict(newdata, kind="mean", re="marginal")
>>> # p[["mean", "sd", "q2.5", "q97.5"]]         # one row per newdata row
>>> # p.draws                                      # xarray (chain, draw, obs)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from glmm_bayes.builder import centring, fixed_groups, intercept_names
from glmm_bayes.design import _P_RE, column_name
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.families import LINKS, gh_expectation

KINDS = ("linear", "mean", "pps", "probs")
RE_MODES = ("conditional", "none", "marginal")


class Prediction(pd.DataFrame):
    """A per-row summary (``mean, sd`` and interval) with the draws attached as ``.draws``."""

    _metadata = ["draws", "kind", "re"]

    @property
    def _constructor(self):
        return Prediction


def _stack(da: xr.DataArray) -> np.ndarray:
    """(chain, draw, ...) → (S, ...)."""
    v = da.values
    return v.reshape(-1, *v.shape[2:])


class DrawSet:
    """Posterior draws of a fit as flat NumPy arrays (S = chains × draws)."""

    def __init__(self, fit):
        design, priors = fit.model.design, fit.model.prior_set
        post = fit.posterior
        self.chains, self.draws = post.sizes["chain"], post.sizes["draw"]
        names = design.coef_names
        b = np.zeros((self.chains * self.draws, len(names)))
        centred = intercept_names(design) if centring(design, priors) is not None else []
        if centred:  # (S,) or, one per linear predictor, (S, K-1)
            b[:, [names.index(n) for n in centred]] = _stack(post["Intercept"]).reshape(len(b), -1)
        for var, cols in fixed_groups(priors, centred).items():
            values = _stack(post[var])
            for j, col in enumerate(cols):
                b[:, names.index(col)] = values[:, j]
        self.b = b  # (S, coefficients); categorical: category-major, see fixed_eta
        self.n_eta = len(design.eta_names)
        self.aux = {name: _stack(post[name]) for name in priors.aux}
        self.u = {key: _stack(da) for key, da in fit.random_effects().items()}  # (S, L, k)
        self.cov = {}
        for block in design.blocks:
            sd = _stack(post[f"sd_{block.key}"])
            if block.correlated:
                cor = _stack(post[f"cor_{block.key}"])
                self.cov[block.key] = sd[:, :, None] * cor * sd[:, None, :]
            else:
                self.cov[block.key] = np.einsum("sk,kj->skj", sd ** 2, np.eye(sd.shape[1]))

    @property
    def n_draws(self) -> int:
        return self.b.shape[0]

    def fixed_eta(self, X: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        """The fixed part of η for design rows ``X`` (plus their ``offset``, if any): (S, n), or (S, n, K-1)
        for several linear predictors (which have no offsets)."""
        if not self.n_eta:
            return self.b @ X.T + (0.0 if offset is None else offset)
        B = self.b.reshape(self.n_draws, self.n_eta, X.shape[1])
        return np.einsum("scp,np->snc", B, X)


def predict(fit, newdata: pd.DataFrame | None = None, kind: str = "mean", re: str = "conditional",
            prob: float = 0.95, allow_new_levels: bool = True, seed: int | None = None,
            quad_points: int | None = None) -> Prediction:
    """Predictions for ``newdata`` (default: the training rows); see the module docstring."""
    if kind not in KINDS:
        raise GLMMInputError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if re not in RE_MODES:
        raise GLMMInputError(f"re must be one of {', '.join(RE_MODES)}, got {re!r}")
    if not 0 < prob < 1:
        raise GLMMInputError(f"prob must be between 0 and 1, got {prob!r}")
    design = fit.model.design
    family = design.family
    if kind == "probs" and not (family.ordinal or family.nominal):
        raise GLMMInputError(f"kind='probs' (category probabilities) is for ordinal and categorical families; "
                             f"family '{family.name}' gives kind='mean' or 'pps'")
    if kind == "mean" and family.nominal:
        kind = "probs"  # the mean of a categorical outcome is its vector of category probabilities
    if isinstance(newdata, pd.DataFrame) and len(newdata) == 0:
        raise GLMMInputError("newdata has no rows; pass at least one row (or newdata=None for the fitted rows)")
    rng = np.random.default_rng(seed)
    data = design.data if newdata is None else newdata
    eta, variance, ds = _linear_predictor(fit, data, re, allow_new_levels, rng)
    extra = _extra(design, data)
    aux = _broadcast_aux(ds.aux, eta)
    if kind == "linear" and family.nominal:  # one η per category but the reference: a long table as "probs"
        return _summarise_probs(eta, ds, prob, re, list(design.response.levels[1:]), kind="linear")
    if kind == "linear":
        values = eta
    elif kind == "probs":
        probs = family.category_probs(eta, design.link, aux, variance, quad_points)
        return _summarise_probs(probs, ds, prob, re, design.response.levels)
    elif kind == "mean":
        values = family.response_mean(eta, design.link, aux, extra, variance, quad_points)
    else:
        if re == "marginal" and family.nominal:  # pps: fresh group effects per row, correlated across η
            chol = np.linalg.cholesky(variance + 1e-12 * np.eye(eta.shape[-1]))
            eta = eta + np.einsum("snij,snj->sni", chol, rng.standard_normal(eta.shape))
        elif re == "marginal":  # pps: fresh group effects per row
            eta = eta + rng.standard_normal(eta.shape) * np.sqrt(variance)
        values = family.draw(rng, eta, design.link, aux, extra).astype(float)
        if family.nominal:  # as brms: per row, the share of predictive draws in each category
            onehot = (values[..., None] == np.arange(len(design.response.levels))).astype(float)
            return _summarise_probs(onehot, ds, prob, re, design.response.levels, kind="pps")
    table = _summarise(values, ds, prob, kind, re)
    labels = newdata.index if newdata is not None else design.row_labels
    if labels is not None:  # rows carry newdata's own index, or the fitting data's labels of the rows kept
        table.index = labels
    return table


def _linear_predictor(fit, data: pd.DataFrame, re: str, allow_new_levels: bool, rng):
    """η per draw and row (S, n) with the group effects as ``re`` asks, the marginal variance
    of the group-level part (``re="marginal"``, else None), and the :class:`DrawSet`."""
    design = fit.model.design
    new = design.evaluate(data, groups=re == "conditional")  # without group effects no grouping columns
    ds = DrawSet(fit)
    eta = ds.fixed_eta(new.X, new.offset)  # (S, n) or (S, n, K-1)
    if re == "conditional":
        for block, codes, Z, levels in zip(design.blocks, new.codes, new.Z, new.new_levels):
            if levels and not allow_new_levels:
                raise GLMMInputError(
                    f"newdata has level(s) of '{block.label}' not seen in fitting: {', '.join(levels[:10])}. "
                    f"Pass allow_new_levels=True to draw their effects from the population distribution, "
                    f"or re='none' / re='marginal'.")
            eta += _conditional_effects(ds, block, codes, Z, rng)
    variance = None
    if re == "marginal":
        no_blocks = np.zeros(eta.shape + eta.shape[2:])  # (S, n), or (S, n, C, C) for C linear predictors
        variance = sum(_re_variance(ds.cov[b.key], Z) for b, Z in zip(design.blocks, new.Z)) \
            if design.blocks else no_blocks
    return eta, variance, ds


def survival_curve(fit, newdata: pd.DataFrame, times, re: str = "conditional", prob: float = 0.95,
                   allow_new_levels: bool = True, seed: int | None = None) -> pd.DataFrame:
    """S(t | x) = P(T > t) for each newdata row and time, with credible intervals.

    ``re`` as in :func:`predict`: ``"conditional"`` (the row's own frailty), ``"none"`` (a typical
    patient/cluster, frailty 0) or ``"marginal"`` (population-averaged: E_r[S(t | η + r)], which
    is *not* S at the average frailty). Returns a long table: ``obs, time, mean, sd`` and the interval.

    >>> # fit.survival(pd.DataFrame({"age": [40], "sex": ["2"], "id": ["new"]}), times=[10, 50, 100])
    """
    if re not in RE_MODES:
        raise GLMMInputError(f"re must be one of {', '.join(RE_MODES)}, got {re!r}")
    design = fit.model.design
    family = design.family
    times = np.atleast_1d(np.asarray(times, dtype=float))
    if np.any(~np.isfinite(times)) or np.any(times < 0):
        raise GLMMInputError(f"times must be finite and >= 0, got {times[(~np.isfinite(times)) | (times < 0)][0]:g}")
    rng = np.random.default_rng(seed)
    eta, variance, ds = _linear_predictor(fit, newdata, re, allow_new_levels, rng)
    aux = _broadcast_aux(ds.aux, eta)

    def survival(e, t):
        return family.survival(t, e, design.link, aux)

    # (times, S, n): conditional / typical, or averaged over the group effects by quadrature
    s = np.stack([survival(eta, t) if variance is None else gh_expectation(lambda e: survival(e, t), eta, variance)
                  for t in times])
    lo, hi = (1 - prob) / 2, (1 + prob) / 2
    q = np.quantile(s, [lo, hi], axis=1)  # (2, times, n)
    n = s.shape[2]
    return pd.DataFrame({"obs": np.tile(np.arange(n), len(times)), "time": np.repeat(times, n),
                         "mean": s.mean(axis=1).ravel(), "sd": s.std(axis=1, ddof=1).ravel(),
                         f"q{100 * lo:g}": q[0].ravel(), f"q{100 * hi:g}": q[1].ravel()}
                        ).sort_values(["obs", "time"], kind="stable", ignore_index=True)


def observation_level_blocks(design) -> list:
    """Group-level blocks with exactly one row per level (observation-level random effects)."""
    return [b for b in design.blocks if len(b.levels) == design.n]


def integrated_loglik(fit, quad_points: int = 40) -> np.ndarray:
    """Pointwise log-likelihood (chain, draw, obs) with observation-level effects integrated out.

    With an observation-level random effect, each row's conditional log-likelihood depends on
    its own effect and PSIS-LOO breaks down (Pareto k > 0.7 for most rows). Integrating that
    effect out, ``log ∫ p(y_i | η_i + r) N(r; 0, v_i) dr`` by Gauss–Hermite quadrature, gives the
    log-likelihood of a new observation from the same row's population — the quantity LOO needs.
    """
    design = fit.model.design
    olre = observation_level_blocks(design)
    if design.eta_names:
        raise GLMMInputError("the integrated log-likelihood for observation-level effects is not available for "
                             "the categorical family (its effects are vectors); use fit.loo(reloo=True) or kfold")
    ds = DrawSet(fit)
    new = design.evaluate(design.data)
    eta = ds.fixed_eta(new.X, new.offset)
    variance = np.zeros_like(eta)
    rng = np.random.default_rng(0)
    for block, codes, Z in zip(design.blocks, new.codes, new.Z):
        if block in olre:
            variance += _re_variance(ds.cov[block.key], Z)
        else:
            eta += _conditional_effects(ds, block, codes, Z, rng)
    nodes, weights = np.polynomial.hermite_e.hermegauss(quad_points)
    log_w = np.log(weights / np.sqrt(2 * np.pi))
    aux = _broadcast_aux(ds.aux, eta)
    family, y, extra = design.family, design.response.y, design.response.extra
    sd = np.sqrt(variance)
    total = np.full_like(eta, -np.inf)
    for t, lw in zip(nodes, log_w):  # running log-sum-exp: memory stays at a few (S, n) arrays
        total = np.logaddexp(total, lw + family.loglik(y, eta + sd * t, design.link, aux, extra))
    return total.reshape(ds.chains, ds.draws, -1)


def marginal_inverse_link(link, eta: np.ndarray, variance: np.ndarray, quad_points: int | None = None) -> np.ndarray:
    """``E[g⁻¹(eta + r)]`` for ``r ~ N(0, variance)`` by Gauss–Hermite quadrature (elementwise).

    ``quad_points=None`` picks 40, 100 or 200 nodes by the largest sd (see module docstring).

    >>> from glmm_bayes.families import LINKS, gh_expectation
    >>> float(marginal_inverse_link(LINKS["log"], np.array(0.0), np.array(1.0)).round(6))  # exp(1/2)
    1.648721
    """
    return gh_expectation(link.inverse, eta, variance, quad_points)


def _re_variance(cov: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Per draw and row: zᵀ Σ z. ``cov`` (S, k, k), ``Z`` (n, k) → (S, n).

    With several linear predictors (``cov`` (S, C·k, C·k), category-major) the covariance of the
    per-row random parts across them: (S, n, C, C).
    """
    k = Z.shape[1]
    if cov.shape[1] == k:
        return np.einsum("nk,skj,nj->sn", Z, cov, Z)
    c = cov.shape[1] // k
    blocks = cov.reshape(cov.shape[0], c, k, c, k)
    return np.einsum("nk,sckdj,nj->sncd", Z, blocks, Z)


def _conditional_effects(ds: DrawSet, block, codes: np.ndarray, Z: np.ndarray, rng) -> np.ndarray:
    """Each row's group-level part of η: (S, n), or (S, n, K-1) for several linear predictors.
    Rows of levels not seen in fitting get effects drawn from N(0, Σ) (one draw per new level)."""
    u = ds.u[block.key]  # (S, L, k), or (S, L, C·k) category-major
    known = codes >= 0
    n_eta, k = len(block.eta_names), Z.shape[1]
    out = np.zeros((ds.n_draws, len(codes)) + ((n_eta,) if n_eta else ()))

    def per_row(effects, rows):  # effects (S, rows, C·k) → (S, rows[, C])
        if not n_eta:
            return np.einsum("snk,nk->sn", effects, Z[rows])
        return np.einsum("snck,nk->snc", effects.reshape(*effects.shape[:2], n_eta, k), Z[rows])

    if known.any():
        out[:, known] = per_row(u[:, codes[known], :], known)
    if (~known).any():
        new_codes, inverse = np.unique(codes[~known], return_inverse=True)
        # one fresh draw per new level (rows of the same new level share it), per posterior draw
        chol = np.linalg.cholesky(ds.cov[block.key] + 1e-12 * np.eye(u.shape[2]))
        z = rng.standard_normal((ds.n_draws, len(new_codes), u.shape[2]))
        u_new = np.einsum("skj,slj->slk", chol, z)
        out[:, ~known] = per_row(u_new[:, inverse, :], ~known)
    return out


def _broadcast_aux(aux: dict[str, np.ndarray], eta: np.ndarray) -> dict[str, np.ndarray]:
    """(S,) → (S, 1, ...) against η; a vector parameter (S, K) → (S, 1, K) (ordinal cutpoints)."""
    return {k: v.reshape(v.shape[0], *([1] * (eta.ndim - 1)), *v.shape[1:]) for k, v in aux.items()}


def _extra(design, data: pd.DataFrame) -> np.ndarray | None:
    """What the family needs besides η for new rows: trials (binomial families), scores (ordinal)."""
    if design.family.needs_trials:
        m = _P_RE.match(design.parsed.response)
        column = column_name(m.group(2))
        if column not in data.columns:
            raise GLMMInputError(f"newdata needs the number of trials in column '{column}' for "
                                 f"{design.family.name} predictions")
        return data[column].to_numpy(dtype=float)
    if design.family.ordinal:
        return design.response.scores
    return None


def _summarise_probs(probs: np.ndarray, ds: "DrawSet", prob: float, re: str, levels: list[str],
                     kind: str = "probs") -> Prediction:
    """Long table of category probabilities (or, ``kind="pps"``, 0/1 indicators of the predicted
    category; ``kind="linear"``, each category's η against the reference): one row per (obs, category)."""
    lo, hi = (1 - prob) / 2, (1 + prob) / 2
    n, k = probs.shape[1], probs.shape[2]
    q = np.quantile(probs, [lo, hi], axis=0)
    table = Prediction({"obs": np.repeat(np.arange(n), k), "category": np.tile(levels, n),
                        "mean": probs.mean(axis=0).ravel(), "sd": probs.std(axis=0, ddof=1).ravel(),
                        f"q{100 * lo:g}": q[0].ravel(), f"q{100 * hi:g}": q[1].ravel()})
    table.draws = xr.DataArray(probs.reshape(ds.chains, ds.draws, n, k), dims=("chain", "draw", "obs", "category"),
                               coords={"category": levels}, name=kind)
    table.kind, table.re = kind, re
    return table


def _summarise(values: np.ndarray, ds: DrawSet, prob: float, kind: str, re: str) -> Prediction:
    lo, hi = (1 - prob) / 2, (1 + prob) / 2
    q = np.quantile(values, [lo, hi], axis=0)
    table = Prediction({"mean": values.mean(axis=0), "sd": values.std(axis=0, ddof=1),
                        f"q{100 * lo:g}": q[0], f"q{100 * hi:g}": q[1]})
    table.draws = xr.DataArray(values.reshape(ds.chains, ds.draws, -1), dims=("chain", "draw", "obs"),
                               coords={"chain": np.arange(ds.chains), "draw": np.arange(ds.draws),
                                       "obs": np.arange(values.shape[1])}, name=kind)
    table.kind, table.re = kind, re
    return table


# ---------------------------------------------------------------- effects
def effects(fit, var: str, by: str | None = None, re: str = "none", prob: float = 0.95) -> pd.DataFrame:
    """Average marginal effects (numeric ``var``) or pairwise contrasts (categorical) on the response scale.

    For a numeric variable: the average over the data rows of dE[y]/dx (central finite
    difference). For a categorical one: for each pair of levels (a, b), the average over
    rows of E[y | var=b] - E[y | var=a]. ``by`` splits the rows by another column.
    ``re`` is as in :func:`predict` ("none" = typical group, "marginal" = population-averaged).
    """
    data = fit.model.design.data
    if var not in data.columns:
        raise GLMMInputError(f"'{var}' is not a variable of the model; choose one of "
                             f"{', '.join(map(str, data.columns))}")
    if by is not None and by not in data.columns:
        raise GLMMInputError(f"by='{by}' is not a variable of the model")
    subsets = [(None, data)] if by is None else [(lvl, data[data[by] == lvl]) for lvl in _levels(data[by])]
    rows = []
    for lvl, rows_data in subsets:
        for contrast, draws in _effect_draws(fit, rows_data.reset_index(drop=True), var, re):
            q = np.quantile(draws, [(1 - prob) / 2, (1 + prob) / 2])
            rows.append({"variable": var, "contrast": contrast, **({by: lvl} if by else {}),
                         "estimate": draws.mean(), "sd": draws.std(ddof=1),
                         f"q{100 * (1 - prob) / 2:g}": q[0], f"q{100 * (1 + prob) / 2:g}": q[1]})
    return pd.DataFrame(rows)


def _levels(s: pd.Series) -> list:
    return list(s.cat.categories) if isinstance(s.dtype, pd.CategoricalDtype) else sorted(s.unique())


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(s)


def _average_prediction(fit, frame: pd.DataFrame, re: str) -> np.ndarray:
    draws = predict(fit, frame, kind="mean", re=re, seed=0).draws.values
    return draws.reshape(-1, draws.shape[-1]).mean(axis=1)


def _effect_draws(fit, frame: pd.DataFrame, var: str, re: str):
    if _is_categorical(frame[var]) or _is_categorical(fit.model.design.data[var]):
        levels = _levels(fit.model.design.data[var])
        means = {}
        for level in levels:
            means[level] = _average_prediction(fit, frame.assign(**{var: level}), re)
        for i, a in enumerate(levels):
            for b in levels[i + 1:]:
                yield f"{b} - {a}", means[b] - means[a]
    else:
        x = frame[var].astype(float)
        h = 1e-4 * (float(x.std()) or 1.0)
        up = _average_prediction(fit, frame.assign(**{var: x + h}), re)
        down = _average_prediction(fit, frame.assign(**{var: x - h}), re)
        yield "dE[y]/dx", (up - down) / (2 * h)


def effect_grid(fit, var: str, re: str, points: int = 50, prob: float = 0.95) -> pd.DataFrame:
    """Predictions across ``var`` with the other variables at their mean (numeric) or first level."""
    data = fit.model.design.data
    base = {}
    for col in data.columns:
        s = data[col]
        base[col] = _levels(s)[0] if _is_categorical(s) else float(s.mean())
    values = _levels(data[var]) if _is_categorical(data[var]) else np.linspace(data[var].min(), data[var].max(),
                                                                                points)
    frame = pd.DataFrame({col: [v] * len(values) for col, v in base.items()})
    frame[var] = values
    for block in fit.model.design.blocks:
        for factor in block.term.factors:
            if factor != var:
                frame[factor] = "__typical__"  # a new level: ignored by re="none"/"marginal"
    pred = predict(fit, frame, kind="mean", re=re, prob=prob, seed=0)
    return pd.concat([frame[[var]].reset_index(drop=True), pd.DataFrame(pred).reset_index(drop=True)], axis=1)


def plot_effects(fit, var: str, prob: float = 0.95):
    """Conditional-effects plot of ``var``: typical group (re="none") next to population-averaged."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, re, title in zip(axes, ("none", "marginal"), ("typical group (effects = 0)", "population-averaged")):
        grid = effect_grid(fit, var, re, prob=prob)
        lo, hi = grid.columns[-2], grid.columns[-1]
        if _is_categorical(fit.model.design.data[var]):
            x = np.arange(len(grid))
            ax.errorbar(x, grid["mean"], yerr=[grid["mean"] - grid[lo], grid[hi] - grid["mean"]], fmt="o")
            ax.set_xticks(x, grid[var].astype(str))
        else:
            ax.fill_between(grid[var], grid[lo], grid[hi], alpha=0.3)
            ax.plot(grid[var], grid["mean"])
        ax.set_title(f"{title}: {var}")
        ax.set_xlabel(var)
        ax.set_ylabel(f"E[{fit.model.design.response.name}] ({100 * prob:g}% interval)")
    fig.tight_layout()
    return fig
