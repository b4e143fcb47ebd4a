"""``Fit``: a sampled model — summaries with brms-style labels, random effects, save/load.

Example
-------
>>> # fit = gb.GLMM("Reaction ~ Days + (1 + Days | Subject)", data=df).fit(seed=1)
>>> # fit.summary()            # index b_Intercept, b_Days, sd_Subject__Intercept, ..., sigma
>>> # fit.ranef()              # group, level, column, mean, sd, q2.5, q97.5
>>> # fit.save("fit.nc"); gb.load("fit.nc").summary()
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from glmm_bayes.builder import effects_from_z, parameter_refs
from glmm_bayes.errors import GLMMInputError
from glmm_bayes import inference
from glmm_bayes.inference import Diagnostics, diagnose, divergence_hint

SUMMARY_COLUMNS = ["mean", "sd", "ess_bulk", "ess_tail", "r_hat", "mcse_mean"]


def _interval_names(prob: float, hdi: bool) -> tuple[str, str]:
    if hdi:
        return f"hdi{100 * prob:g}_lower", f"hdi{100 * prob:g}_upper"
    lo = 100 * (1 - prob) / 2
    return f"q{lo:g}", f"q{100 - lo:g}"


class Fit:
    """Posterior draws of a :class:`glmm_bayes.GLMM` plus what is needed to summarise and predict."""

    def __init__(self, model, idata, backend: str = "", seconds: float = 0.0, warn: bool = True,
                 check: bool = True, log_likelihood_on_read: bool = False):
        """``check=False``: draws that are not MCMC output (prior draws wrapped for simulation) skip the
        convergence diagnostics until :attr:`diagnostics` is read. ``log_likelihood_on_read``: ``idata``
        lacks its ``log_likelihood`` group, which reading :attr:`idata` computes (once)."""
        self.model = model
        self._idata = idata
        self._log_likelihood_on_read = log_likelihood_on_read
        self.backend = backend
        self.seconds = seconds
        self._params: xr.Dataset | None = None
        self._diagnostics: Diagnostics | None = (
            diagnose(idata, self.parameter_draws(), seconds, warn=warn, group_labels=self._group_labels(),
                     divergence_hint=divergence_hint(model.design)) if check else None)

    @property
    def idata(self) -> xr.DataTree:
        """The ArviZ DataTree: ``posterior``, ``sample_stats``, ``log_likelihood``, ``observed_data`` (and
        ``posterior_predictive`` once drawn). A fit's pointwise log-likelihood is computed when this is first
        read, or by ``loo()``/``waic()``/``save()``, not while fitting (as brms and bambi do): a fit of the
        8,525-row model (a) of benchmarks/ returns about 1.1 s sooner. A fit too big to hold it
        (:meth:`glmm_bayes.GLMM.fit`'s ``log_likelihood``) leaves it out here too.

        >>> # fit.idata["log_likelihood"]["y"]   # (chain, draw, obs), computed now if not yet
        """
        if self._log_likelihood_on_read:
            self._log_likelihood_on_read = False
            self.ensure_log_likelihood()
        return self._idata

    @idata.setter
    def idata(self, value: xr.DataTree) -> None:
        self._idata, self._log_likelihood_on_read = value, False

    @property
    def diagnostics(self) -> Diagnostics:
        """R-hat, ESS, divergences and BFMI of the draws, with plain-language warnings."""
        if self._diagnostics is None:
            self._diagnostics = diagnose(self._idata, self.parameter_draws(), self.seconds, warn=False,
                                         group_labels=self._group_labels(),
                                         divergence_hint=divergence_hint(self.model.design))
        return self._diagnostics

    def _group_labels(self) -> dict[str, str]:
        """Block key → grouping factor as written (``r_<group>[...]`` names in the diagnostics)."""
        return {block.key: block.label for block in self.model.design.blocks}

    # ---------------------------------------------------------- draws
    @property
    def environment(self) -> dict[str, str]:
        """Package versions the draws were made with (recorded at save time; current ones before)."""
        stored = self._idata.attrs.get("glmm_environment")
        return json.loads(stored) if stored else environment()

    @property
    def posterior(self) -> xr.Dataset:
        return self._idata["posterior"].to_dataset()

    def parameter_draws(self) -> xr.Dataset:
        """One variable per labelled parameter (``b_x``, ``sd_g__x``, ``cor_g__a__b``, ``sigma``), dims (chain, draw)."""
        if self._params is None:
            posterior = self.posterior
            data = {}
            for ref in parameter_refs(self.model.design, self.model.prior_set):
                da = posterior[ref.var]
                if ref.sel:
                    da = da.sel(dict(ref.sel))
                data[ref.label] = da.drop_vars([c for c in da.coords if c not in ("chain", "draw")])
            self._params = xr.Dataset(data)
        return self._params

    def random_effects(self) -> dict[str, xr.DataArray]:
        """Group-level effects per block key: DataArray (chain, draw, ``<key>__level``, ``<key>__coef``)."""
        posterior = self.posterior
        out = {}
        for block in self.model.design.blocks:
            key = block.key
            if f"u_{key}" in posterior:  # a centred block: the effects themselves were sampled
                out[key] = posterior[f"u_{key}"]
                continue
            z = posterior[f"z_{key}"]
            sd = posterior[f"sd_{key}"]
            at_means = key in self.model.at_means_blocks
            if block.correlated or at_means:
                sd_values = sd.transpose("chain", "draw", ...).values
                root = (np.linalg.cholesky(posterior[f"cor_{key}"].values) if block.correlated
                        else np.eye(sd_values.shape[-1])) * sd_values[..., :, None]  # diag(sd) · L_cor
                z_values = z.transpose("chain", "draw", ...).values
                u = (effects_from_z(z_values, root, block, xp=np) if at_means
                     else z_values @ root.swapaxes(-1, -2))
                out[key] = z.transpose("chain", "draw", ...).copy(data=u)
            else:
                out[key] = z * sd
        return out

    # ---------------------------------------------------------- tables
    def summary(self, prob: float = 0.95, hdi: bool = False) -> pd.DataFrame:
        """Posterior summary of the population-level parameters.

        Index: parameter labels (DESIGN.md §2). Columns: ``mean, sd``, the
        central interval ``q2.5, q97.5`` for ``prob=0.95`` (or the HDI with
        ``hdi=True``), ``ess_bulk, ess_tail, r_hat, mcse_mean``.
        """
        return summarise(self.parameter_draws(), prob, hdi)

    def ranef(self, prob: float = 0.95) -> pd.DataFrame:
        """Tidy table of group-level effects: ``group, level, column, mean, sd`` and the interval."""
        lo_name, hi_name = _interval_names(prob, False)
        frames = []
        for block in self.model.design.blocks:
            u = self.random_effects()[block.key].values
            flat = u.reshape(-1, *u.shape[2:])
            q = np.quantile(flat, [(1 - prob) / 2, (1 + prob) / 2], axis=0)
            levels = np.repeat(block.levels, len(block.coef_names))
            frames.append(pd.DataFrame({
                "group": block.label, "level": levels, "column": np.tile(block.coef_names, len(block.levels)),
                "mean": flat.mean(axis=0).ravel(), "sd": flat.std(axis=0, ddof=1).ravel(),
                lo_name: q[0].ravel(), hi_name: q[1].ravel()}))
        if not frames:
            return pd.DataFrame(columns=["group", "level", "column", "mean", "sd", lo_name, hi_name])
        return pd.concat(frames, ignore_index=True)

    def loo(self, pointwise: bool = True, reloo: bool = False, k_threshold: float = 0.7,
            moment_match: bool = False):
        """PSIS-LOO (ArviZ) on the pointwise log-likelihood of each data row.

        ``reloo=True`` refits the compiled model without each observation whose Pareto k
        exceeds ``k_threshold`` and uses the exact value for it (``result.n_refits``,
        ``result.refit_seconds`` say what it cost).

        ``moment_match=True`` instead adapts the existing draws to each such observation's
        leave-one-out posterior (Paananen et al. 2021; no refits): ``result.n_moment_matched``
        and ``result.n_high_k`` (still above ``k_threshold``; reloo those) say how it went.
        See :func:`glmm_bayes.compare.loo_moment_match`.
        """
        import arviz as az

        if reloo and moment_match:
            raise GLMMInputError("choose one of reloo=True (exact refits) and moment_match=True")
        if moment_match:
            from glmm_bayes.compare import loo_moment_match

            return loo_moment_match(self, k_threshold=k_threshold, pointwise=pointwise)
        if reloo:
            from glmm_bayes.compare import reloo as _reloo

            return _reloo(self, k_threshold=k_threshold)
        return az.loo(self.loo_data(), pointwise=pointwise)

    def ensure_log_likelihood(self):
        """``idata`` with its ``log_likelihood`` group, computed now (one chain at a time) if the fit left it out.

        Fits of big data leave it out (see :meth:`glmm_bayes.GLMM.fit`'s ``log_likelihood``); LOO, WAIC,
        LOO-PIT and ``compare`` call this first.

        >>> # fit = model.fit(log_likelihood=False); fit.ensure_log_likelihood()["log_likelihood"]["y"]
        """
        if "log_likelihood" in self._idata.children:
            return self._idata
        from glmm_bayes.glmm import LOGLIK_STORE_MAX

        posterior = self.posterior
        model = self.model.pymc_model
        n_chains = posterior.sizes["chain"]
        at_once = n_chains * posterior.sizes["draw"] * self.model.design.n <= LOGLIK_STORE_MAX
        parts = [posterior] if at_once else [posterior.isel(chain=[c]) for c in range(n_chains)]  # bounds memory
        chains = [inference.add_log_likelihood(model, inference.posterior_as_tree(part),
                                               observed=False)["log_likelihood"].to_dataset() for part in parts]
        self._idata["log_likelihood"] = xr.DataTree(xr.concat(chains, dim="chain") if len(chains) > 1 else chains[0])
        self._log_likelihood_on_read = False
        return self._idata

    def loo_data(self):
        """The DataTree LOO is computed on: with observation-level effects integrated out if present.

        See :func:`glmm_bayes.predict.integrated_loglik`; otherwise it is ``idata`` itself.
        """
        from glmm_bayes.predict import integrated_loglik, observation_level_blocks

        self.ensure_log_likelihood()
        if not observation_level_blocks(self.model.design):
            return self.idata
        tree = self.idata.copy()
        ll = self.idata["log_likelihood"]["y"]
        tree["log_likelihood"] = xr.DataTree(xr.Dataset({"y": ll.copy(data=integrated_loglik(self))}))
        return tree

    def kfold(self, k: int = 10, group: str | None = None, stratify: str | None = None, seed: int = 0,
              draws: int | None = None, executor: str = "auto", n_workers: int | None = None,
              tune: int | None = None):
        """(Grouped) k-fold cross-validation; see :func:`glmm_bayes.compare.kfold`."""
        from glmm_bayes.compare import kfold

        return kfold(self, k=k, group=group, stratify=stratify, seed=seed, draws=draws, tune=tune,
                     executor=executor, n_workers=n_workers)

    def predict(self, newdata: pd.DataFrame | None = None, kind: str = "mean", re: str = "conditional",
                prob: float = 0.95, allow_new_levels: bool = True, seed: int | None = None):
        """Per-row predictions with draws attached; see :mod:`glmm_bayes.predict`.

        ``kind``: ``"linear"``, ``"mean"``, ``"pps"``, or (ordinal families) ``"probs"``: one row per
        (observation, category) with the category probabilities.

        >>> # fit.predict(newdata, kind="mean", re="marginal")[["mean", "q2.5", "q97.5"]]
        """
        from glmm_bayes.predict import predict

        return predict(self, newdata, kind=kind, re=re, prob=prob, allow_new_levels=allow_new_levels,
                       seed=seed)

    def effects(self, var: str, by: str | None = None, re: str = "none", prob: float = 0.95) -> pd.DataFrame:
        """Average marginal effect (numeric ``var``) or pairwise contrasts (categorical), response scale."""
        from glmm_bayes.predict import effects

        return effects(self, var, by=by, re=re, prob=prob)

    def plot_effects(self, var: str, prob: float = 0.95):
        """Predictions across ``var``: typical group (re="none") beside population-averaged (re="marginal")."""
        from glmm_bayes.predict import plot_effects

        return plot_effects(self, var, prob)

    # ---------------------------------------------------------- checks (glmm_bayes.checks / plots)
    def survival(self, newdata: pd.DataFrame, times, re: str = "conditional", prob: float = 0.95,
                 allow_new_levels: bool = True, seed: int | None = None) -> pd.DataFrame:
        """Survival curves S(t | x) for survival families; see :func:`glmm_bayes.predict.survival_curve`.

        >>> # fit.survival(newdata, times=[30, 90, 365], re="marginal")   # population-averaged
        """
        from glmm_bayes.predict import survival_curve

        return survival_curve(self, newdata, times, re=re, prob=prob, allow_new_levels=allow_new_levels,
                              seed=seed)

    def ppc(self, seed: int | None = None):
        """Draw the posterior predictive ``y_rep`` (chain, draw, obs) and store it in ``idata``."""
        from glmm_bayes.checks import posterior_predictive

        return posterior_predictive(self, seed)

    def plot_ppc(self, kind: str | None = None, group: str | None = None, stat: str = "mean", seed: int | None = 0):
        """Posterior predictive check figure (``kind`` "dens" | "bars" | "ecdf"; ``group`` for grouped checks)."""
        from glmm_bayes.plots import plot_ppc

        return plot_ppc(self, kind=kind, group=group, stat=stat, seed=seed)

    def residual_tests(self, seed: int | None = 0) -> pd.DataFrame:
        """Uniformity and dispersion tests of randomized quantile residuals."""
        from glmm_bayes.checks import residual_tests

        return residual_tests(self, seed)

    def plot_residuals(self, seed: int | None = 0):
        from glmm_bayes.plots import plot_residuals

        return plot_residuals(self, seed)

    def loo_pit(self, seed: int | None = 0) -> np.ndarray:
        from glmm_bayes.checks import loo_pit

        return loo_pit(self, seed)

    def plot_loo_pit(self, seed: int | None = 0):
        from glmm_bayes.plots import plot_loo_pit

        return plot_loo_pit(self, seed)

    def plot_khat(self):
        from glmm_bayes.plots import plot_khat

        return plot_khat(self)

    def caterpillar(self, group: str | None = None, column: str | None = None, prob: float = 0.95):
        """Random-effects (caterpillar) plot for one grouping factor."""
        from glmm_bayes.plots import plot_caterpillar

        return plot_caterpillar(self, group, column, prob)

    def icc(self, prob: float = 0.95) -> pd.DataFrame:
        """Latent-scale intraclass correlation per grouping factor (see :mod:`glmm_bayes.checks`)."""
        from glmm_bayes.checks import icc

        return icc(self, prob)

    def r2(self, prob: float = 0.95) -> pd.DataFrame:
        """Bayesian R², marginal and conditional."""
        from glmm_bayes.checks import bayes_r2

        return bayes_r2(self, prob)

    def effective_parameters(self) -> pd.DataFrame:
        """p_loo and p_waic next to the nominal number of parameters."""
        from glmm_bayes.checks import effective_parameters

        return effective_parameters(self)

    def waic(self, warn: bool = True):
        """WAIC from the pointwise log-likelihood (see :func:`glmm_bayes.compare.waic`)."""
        from glmm_bayes.compare import waic

        return waic(self.loo_data(), warn=warn)  # loo_data: with the log-likelihood computed if left out

    def _repr_html_(self) -> str:
        badges = "".join(
            f'<span style="padding:0 .4em;margin-right:.3em;border-radius:.5em;color:#fff;'
            f'background:{"#2e7d32" if row["pass"] else "#c62828"}">{row["check"]}: {row["value"]}</span>'
            for row in self.diagnostics.table().to_dict("records"))
        d = self.model.design
        return (f"<p><b>GLMM fit</b> <code>{self.model.spec.formula}</code> ({d.family.name}, {d.link}; "
                f"{d.n} observations; {self.backend}, {self.seconds:.1f} s)</p><p>{badges}</p>"
                + self.summary().round(3).to_html())

    def __repr__(self) -> str:
        spec = self.model.spec
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            table = self.summary().round(3).to_string()
        return (f"GLMM fit: {spec.formula}  [family {self.model.design.family.name}, link "
                f"{self.model.design.link}]\n{self.model.design.n} observations; backend {self.backend}; "
                f"{self.seconds:.1f} s\n{table}\n{self.diagnostics}")

    # ---------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> Path:
        """Write the fit (draws, spec, data, environment) to one NetCDF file, atomically."""
        path = Path(path)
        tree = self.idata.copy()
        tree["glmm_data"] = xr.DataTree(_frame_to_dataset(self.model.design.data, self.model.design.row_labels))
        tree.attrs.update(self.model.spec_attrs())
        tree.attrs["glmm_backend"] = self.backend
        tree.attrs["glmm_seconds"] = float(self.seconds)
        tree.attrs["glmm_environment"] = json.dumps(self.environment)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            _drop_object_vars(tree).to_netcdf(tmp, engine="netcdf4")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path


def summarise(params: xr.Dataset, prob: float = 0.95, hdi: bool = False) -> pd.DataFrame:
    """ArviZ summary of labelled draws with DESIGN.md's column names."""
    import arviz as az

    if not 0 < prob < 1:
        raise GLMMInputError(f"prob must be between 0 and 1, got {prob!r}")
    table = az.summary(params, ci_prob=prob, ci_kind="hdi" if hdi else "eti", round_to="none")
    lo_name, hi_name = _interval_names(prob, hdi)
    lb = [c for c in table.columns if c.endswith("_lb")][0]
    ub = [c for c in table.columns if c.endswith("_ub")][0]
    table = table.rename(columns={lb: lo_name, ub: hi_name})
    table = table[["mean", "sd", lo_name, hi_name, "ess_bulk", "ess_tail", "r_hat", "mcse_mean"]]
    table.index.name = "param"
    return table.astype(float)


def environment() -> dict[str, str]:
    """Versions of the stack, for reproducibility records."""
    from importlib import metadata

    env = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("glmm_bayes", "pymc", "pytensor", "arviz", "nutpie", "numpyro", "jax", "numpy", "formulae"):
        try:
            env[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return env


def _frame_to_dataset(df: pd.DataFrame, labels: pd.Index | None = None) -> xr.Dataset:
    """The data as a NetCDF-ready Dataset; a Categorical column is stored as text, its categories (values
    kept where JSON has them, so integer levels stay integers) and whether it is ordered in the attrs. The rows'
    own labels (integers or text) are the ``row`` coordinate."""
    data, meta = {}, {}
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            cats = s.cat.categories.tolist()
            if not all(isinstance(c, (str, int, float, bool)) for c in cats):
                cats = [str(c) for c in cats]
            meta[col] = {"categories": cats, "ordered": bool(s.cat.ordered)}
            data[col] = ("row", s.astype(str).to_numpy(dtype="U"))
        else:
            data[col] = ("row", s.to_numpy())
    ds = xr.Dataset(data)
    if labels is not None and len(labels) == len(df) and not isinstance(labels, pd.MultiIndex):
        if pd.api.types.is_integer_dtype(labels):
            ds = ds.assign_coords(row=labels.to_numpy())
        elif pd.api.types.is_string_dtype(labels) or labels.dtype == object:  # other labels: stored as text
            ds = ds.assign_coords(row=labels.astype(str).to_numpy(dtype="U"))
    ds.attrs["categories"] = json.dumps(meta)
    ds.attrs["columns"] = json.dumps([str(c) for c in df.columns])
    return ds


def _dataset_to_frame(ds: xr.Dataset) -> pd.DataFrame:
    """Inverse of :func:`_frame_to_dataset` (also reads files that stored only category names)."""
    meta = json.loads(ds.attrs.get("categories", "{}"))
    columns = json.loads(ds.attrs.get("columns", "[]")) or list(ds.data_vars)
    df = pd.DataFrame({c: ds[c].values for c in columns})
    if "row" in ds.coords:  # the rows' own labels (older files: none)
        df.index = pd.Index(ds["row"].values)
    for col, info in meta.items():
        info = info if isinstance(info, dict) else {"categories": info, "ordered": False}
        cats = info["categories"]
        values = df[col].astype(str).map({str(c): c for c in cats})
        df[col] = pd.Categorical(values, categories=cats, ordered=info["ordered"])
    return df


def _drop_object_vars(tree: xr.DataTree) -> xr.DataTree:
    """NetCDF cannot store Python objects (nutpie's divergence messages): drop such variables."""
    def clean(ds: xr.Dataset) -> xr.Dataset:
        bad = [v for v, da in ds.data_vars.items() if da.dtype == object]
        return ds.drop_vars(bad)

    return tree.map_over_datasets(clean)


def load(path: str | os.PathLike) -> Fit:
    """Read a fit written by :meth:`Fit.save`; it can summarise and predict as before."""
    from glmm_bayes.glmm import GLMM

    path = Path(path)
    if not path.is_file():
        raise GLMMInputError(f"fit file '{path}' does not exist")
    try:
        tree = xr.open_datatree(path, engine="netcdf4").load()
    except Exception as exc:
        raise GLMMInputError(f"'{path}' is not a readable fit file (NetCDF): {exc}") from None
    if "glmm_spec" not in tree.attrs or "glmm_data" not in tree.children:
        raise GLMMInputError(f"'{path}' is a NetCDF file but not a glmm_bayes fit (no spec or data stored)")
    data = _dataset_to_frame(tree["glmm_data"].to_dataset())
    model = GLMM.from_attrs(tree.attrs, data)
    idata = tree.copy()
    del idata["glmm_data"]
    return Fit(model, idata, backend=str(tree.attrs.get("glmm_backend", "")),
               seconds=float(tree.attrs.get("glmm_seconds", 0.0)), warn=False)
