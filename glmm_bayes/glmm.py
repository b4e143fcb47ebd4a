"""``GLMM``: the user-facing model object tying the pipeline stages together.

spec (:mod:`~glmm_bayes.spec`) → design (:mod:`~glmm_bayes.design`) → priors
(:mod:`~glmm_bayes.priors`) → PyMC model (:mod:`~glmm_bayes.builder`) → NUTS
(:mod:`~glmm_bayes.inference`) → :class:`~glmm_bayes.fit.Fit`. Each stage's
output is an attribute: ``design``, ``prior_set``/``priors``, ``pymc_model``.

Example
-------
>>> import glmm_bayes as gb, pandas as pd
>>> df = pd.read_csv("../shared/data/sleepstudy.csv")          # doctest: +SKIP
>>> model = gb.GLMM("Reaction ~ Days + (1 + Days | Subject)", data=df)   # doctest: +SKIP
>>> model.priors                                                 # doctest: +SKIP
>>> fit = model.fit(draws=1000, tune=1000, chains=4, seed=1)   # doctest: +SKIP
>>> fit.summary()                                                # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import warnings

import numpy as np
import pandas as pd

from glmm_bayes import inference
from glmm_bayes.builder import (at_means_blocks, block_mode, build_model, centred_blocks, centred_intercept_blocks,
                                data_arrays, fixed_effects_condition, intercept_block, LOW_RANK_CONDITION)
from glmm_bayes.design import Design, aggregate_design, make_design
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.fit import Fit, environment
from glmm_bayes.priors import PriorSet, resolve_priors
from glmm_bayes.spec import ModelSpec

LOGLIK_STORE_MAX = 50_000_000  # pointwise log-likelihood values stored with a fit by default (400 MB)


def xr_tree(posterior):
    import xarray as xr

    return xr.DataTree.from_dict({"posterior": posterior})


class GLMM:
    """A Bayesian generalized linear mixed model, built from a formula and a data frame.

    Parameters
    ----------
    formula : lme4/brms-style formula, e.g. ``"y ~ x + (1 + x | g)"`` (DESIGN.md §2).
    data : the data frame.
    family, link : response distribution and link (``link=None`` = the family's default).
    priors : prior strings by key (``Intercept``, ``b``, ``b_<col>``, ``sd``, ``sd_<group>``,
        ``cor``, ``cor_<group>``, family parameters); unspecified ones get data-scaled defaults.
    categorical : numeric columns to treat as categorical.
    na_action : ``"error"`` (default) or ``"drop"`` rows with missing values in used columns.
    aggregate : sample identical Bernoulli/binomial rows as binomial counts (same posterior; see
        :func:`~glmm_bayes.design.aggregate_design`).
    parameterization : ``"auto"`` (default), ``"centred"``, ``"noncentred"``, ``"noncentred_at_means"``,
        ``"centred_intercept"`` or a dict by grouping factor: how group-level effects are sampled (see
        :func:`~glmm_bayes.builder.centred_blocks`, :func:`~glmm_bayes.builder.at_means_blocks` and
        :func:`~glmm_bayes.builder.centred_intercept_blocks`). ``"auto"`` samples a block centred when its
        levels are well informed, else non-centred, with the effects of a block with slopes drawn at the
        slope columns' means, or (binary and count outcomes) only its intercepts centred when they are
        informed. A centred block is centred around the fixed part and the effects of the grouping factors
        it is nested in (broods around their location's effect). Every form is the same model.
    """

    def __init__(self, formula: str, data: pd.DataFrame, family: str = "gaussian", link: str | None = None,
                 priors: dict[str, str] | None = None, categorical: list[str] | None = None,
                 na_action: str = "error", name: str = "model", data_source: str | None = None,
                 sampler: dict | None = None, aggregate: bool = True, parameterization: str = "auto"):
        if priors is not None and not isinstance(priors, dict):
            raise GLMMInputError(f"priors must be a dict of key -> prior string, got {type(priors).__name__}")
        if isinstance(categorical, str):
            raise GLMMInputError(f"categorical must be a list of column names, e.g. [{categorical!r}]")
        self.design: Design = make_design(formula, data, family, link, categorical, na_action)
        self.spec = ModelSpec(formula=formula, family=family, link=link, priors=dict(priors or {}),
                              categorical=list(categorical or []), data=data_source, name=name,
                              sampler=dict(sampler or {}), na_action=na_action, parameterization=parameterization)
        self.spec.family = self.design.family.name
        self.prior_set: PriorSet = resolve_priors(self.design, self.spec.priors)
        # identical Bernoulli/binomial rows are sampled as binomial counts (same posterior, fewer terms)
        self.sampling_design: Design = (aggregate_design(self.design) if aggregate else None) or self.design
        self.centred_blocks: list[str] = centred_blocks(self.design, parameterization)
        self.centred_intercept_blocks: list[str] = centred_intercept_blocks(self.design, parameterization,
                                                                            self.centred_blocks)
        self.at_means_blocks: list[str] = at_means_blocks(self.design, parameterization, self.centred_blocks,
                                                          self.centred_intercept_blocks)
        self._pymc_model = None
        self._sampling_model = None
        self._compiled = None

    @classmethod
    def from_spec(cls, spec: ModelSpec, data: pd.DataFrame | None = None) -> "GLMM":
        """Build from a :class:`ModelSpec` (data read from the spec unless given)."""
        data = spec.load_data() if data is None else data
        return cls(spec.formula, data, family=spec.family, link=spec.link, priors=spec.priors,
                   categorical=spec.categorical, na_action=spec.na_action, name=spec.name,
                   data_source=spec.data, sampler=spec.sampler, parameterization=spec.parameterization)

    @classmethod
    def from_attrs(cls, attrs: dict, data: pd.DataFrame) -> "GLMM":
        spec = ModelSpec.from_toml_string(str(attrs["glmm_spec"]))
        spec.na_action = "error"  # the stored data is already the cleaned data
        model = cls.from_spec(spec, data)
        # the forms the draws were sampled in: stored since "auto" may choose differently in other versions;
        # files without them predate "auto" choosing noncentred_at_means, so only an explicit request counts
        forms = json.loads(str(attrs["glmm_forms"])) if "glmm_forms" in attrs else None
        if forms is not None:
            model.centred_blocks, model.at_means_blocks = list(forms["centred"]), list(forms["at_means"])
            model.centred_intercept_blocks = list(forms.get("centred_intercept", []))
        elif model.at_means_blocks or model.centred_intercept_blocks:
            asked = {b.label: block_mode(spec.parameterization, b) for b in model.design.blocks}
            legacy = {label: ("noncentred" if mode == "auto" else mode) for label, mode in asked.items()}
            model.centred_intercept_blocks = centred_intercept_blocks(model.design, legacy, model.centred_blocks)
            model.at_means_blocks = at_means_blocks(model.design, legacy, model.centred_blocks,
                                                    model.centred_intercept_blocks)
        return model

    def spec_attrs(self) -> dict[str, str]:
        """The spec (TOML) and the parameterisation of each block, for :meth:`Fit.save`."""
        forms = {"centred": self.centred_blocks, "at_means": self.at_means_blocks,
                 "centred_intercept": self.centred_intercept_blocks}
        return {"glmm_spec": self.spec.to_toml(), "glmm_forms": json.dumps(forms)}

    # ---------------------------------------------------------- stages
    @property
    def priors(self) -> pd.DataFrame:
        """The full prior table actually used (defaults filled in)."""
        return self.prior_set.table()

    @property
    def pymc_model(self):
        """The PyMC model (built on first access, then cached)."""
        if self._pymc_model is None:
            self._pymc_model = build_model(self.design, self.prior_set, self.centred_blocks, self.at_means_blocks,
                                           self.centred_intercept_blocks)
        return self._pymc_model

    @property
    def sampling_model(self):
        """The PyMC model NUTS samples: :attr:`pymc_model`, or with identical Bernoulli/binomial rows merged
        into binomial counts (``aggregate=True``, when that at least halves the rows). Both have the same
        parameters and posterior; log-likelihoods, predictions and checks stay per data row."""
        if self.sampling_design is self.design:
            return self.pymc_model
        if self._sampling_model is None:
            self._sampling_model = build_model(self.sampling_design, self.prior_set, self.centred_blocks,
                                               self.at_means_blocks, self.centred_intercept_blocks)
        return self._sampling_model

    def sampling_arrays(self, rows=None, y=None) -> dict:
        """``pm.Data`` values of :attr:`sampling_model` for the given data rows (all if None) and,
        optionally, another outcome per data row (SBC)."""
        return data_arrays(self.sampling_design, self.prior_set, rows, y)

    def graph(self):
        """The model graph: a graphviz diagram when Graphviz is installed, else a text description."""
        import pymc as pm

        if shutil.which("dot"):
            return pm.model_to_graphviz(self.pymc_model)
        return self.pymc_model.str_repr()

    # ---------------------------------------------------------- sampling
    def fit(self, draws: int | None = None, tune: int | None = None, chains: int | None = None,
            seed: int | None = None, backend: str | None = None, target_accept: float | None = None,
            progressbar: bool = True, warn: bool = True, adaptation: str | None = None,
            method: str = "nuts", vi_steps: int = 30_000, vi_method: str = "advi",
            log_likelihood: bool | None = None) -> Fit:
        """Sample the posterior with NUTS and return a :class:`Fit`.

        Unset arguments come from the spec's ``[sampler]`` table, then the
        defaults draws=1000, tune=1000, chains=4, backend="nutpie", target_accept=0.8 (the spec may set
        ``adaptation`` too).
        ``adaptation`` (nutpie): ``"diag"`` or ``"low_rank"`` mass matrix (see :func:`inference.sample`);
        default ``"diag"``, or ``"low_rank"`` when a centred block (:attr:`centred_blocks`) is not the one
        centred on the intercept (:func:`~glmm_bayes.builder.intercept_block`): its effects and the intercept
        then form a ridge that a diagonal mass matrix does not cross; and when the fixed-effect columns are
        strongly correlated (:func:`~glmm_bayes.builder.fixed_effects_condition` above
        ``LOW_RANK_CONDITION``, e.g. an interaction with a predictor far from 0).

        ``method="vi"``: variational inference instead of NUTS, for data too big to sample
        (:func:`inference.fit_vi`: ``vi_method`` "advi" or "fullrank_advi", ``vi_steps`` iterations,
        ``draws`` draws in one chain). Its Pareto k diagnostic is in ``fit.diagnostics`` (a warning
        when > 0.7).

        ``log_likelihood``: ``True`` computes the pointwise log-likelihood (chains × draws × rows floats)
        with the draws; ``False`` leaves it out (:meth:`Fit.ensure_log_likelihood` computes it when
        ``loo()``/``waic()``/``compare`` need it). Default: computed when :attr:`Fit.idata` is first read
        (or by those) if it is at most ``LOGLIK_STORE_MAX`` values (400 MB), else left out, so a
        million-row fit does not hold 32 GB it may never use.
        """
        settings = {"draws": 1000, "tune": 1000, "chains": 4, "seed": None,
                    "backend": inference.DEFAULT_BACKEND, "target_accept": 0.8}
        settings.update(self.spec.sampler)
        spec_adaptation = settings.pop("adaptation", None)  # a fit() argument wins over the spec
        adaptation = adaptation or spec_adaptation
        given = {"draws": draws, "tune": tune, "chains": chains, "seed": seed, "backend": backend,
                 "target_accept": target_accept}
        settings.update({k: v for k, v in given.items() if v is not None})
        inference.check_settings(**settings)
        if method not in ("nuts", "vi"):
            raise GLMMInputError(f"method must be 'nuts' or 'vi', got {method!r}")
        on_read = False  # the default: the log-likelihood is computed when fit.idata is first read
        if log_likelihood is None:
            draws_total = settings["chains"] * settings["draws"] if method == "nuts" else settings["draws"]
            on_read, log_likelihood = draws_total * self.design.n <= LOGLIK_STORE_MAX, False
        if method == "vi":
            return self._fit_vi(settings, vi_steps, vi_method, progressbar, warn, log_likelihood, on_read)
        if adaptation is None:  # a centred block not centred on the intercept leaves a ridge: low-rank
            on_intercept = intercept_block(self.design, self.prior_set,
                                           self.centred_blocks + self.centred_intercept_blocks)
            plain = [k for k in self.centred_blocks + self.centred_intercept_blocks if k != on_intercept]
            ill_conditioned = fixed_effects_condition(self.design) > LOW_RANK_CONDITION
            adaptation = "low_rank" if plain or ill_conditioned else "diag"
        model = self.sampling_model
        with inference.Timer() as timer, warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=".*divergence_message.*")
            compiled = None
            if settings["backend"] == "nutpie":
                if self._compiled is None:
                    self._compiled = inference.compile_nutpie(model)
                compiled = self._compiled
            idata = inference.sample(model, progressbar=progressbar, compiled=compiled, adaptation=adaptation,
                                     loglik_model=self.pymc_model, log_likelihood=log_likelihood, **settings)
        idata.attrs["glmm_seed"] = -1 if settings["seed"] is None else int(settings["seed"])
        idata.attrs["glmm_environment"] = json.dumps(environment())
        return Fit(self, idata, backend=settings["backend"], seconds=timer.seconds, warn=warn,
                   log_likelihood_on_read=on_read)

    def _fit_vi(self, settings: dict, steps: int, vi_method: str, progressbar: bool, warn: bool,
                log_likelihood: bool, on_read: bool = False) -> Fit:
        with inference.Timer() as timer:
            idata = inference.fit_vi(self.sampling_model, draws=settings["draws"], steps=steps, seed=settings["seed"],
                                     method=vi_method, progressbar=progressbar, loglik_model=self.pymc_model,
                                     log_likelihood=log_likelihood)
        idata.attrs["glmm_seed"] = -1 if settings["seed"] is None else int(settings["seed"])
        idata.attrs["glmm_environment"] = json.dumps(environment())
        return Fit(self, idata, backend=f"vi ({vi_method})", seconds=timer.seconds, warn=warn,
                   log_likelihood_on_read=on_read)

    def _checked_rows(self, rows) -> "np.ndarray":
        """``rows`` as row positions: a boolean mask of the design's length or positions 0..n-1, at least one."""
        import numpy as np

        rows = np.asarray(rows)
        n = self.design.n
        if rows.dtype == bool:
            if rows.shape != (n,):
                raise GLMMInputError(f"a boolean rows mask must have one entry per row ({n}), got shape {rows.shape}")
            rows = np.flatnonzero(rows)
        if rows.ndim != 1 or rows.size == 0 or not np.issubdtype(rows.dtype, np.integer):
            raise GLMMInputError(f"rows must be a non-empty list of row positions (0 to {n - 1}) or a boolean mask, "
                                 f"got {rows.size} value(s) of type {rows.dtype}")
        bad = rows[(rows < 0) | (rows >= n)]
        if bad.size:
            raise GLMMInputError(f"row position {bad[0]} is outside the data (0 to {n - 1})")
        return rows

    def compiled_with_data(self, rows=None, y=None):
        """The compiled nutpie model (compiled on first use) with the data of ``rows`` and outcome ``y``
        swapped in (see :meth:`sampling_arrays`). Containers the compiled functions do not read are left
        out: a log-density that takes log y (``y_log``) no longer reads ``y_obs`` itself."""
        if self._compiled is None:
            self._compiled = inference.compile_nutpie(self.sampling_model)
        known = {var.name for var in self._compiled.shared_var_keys}
        return self._compiled.with_data(**{k: v for k, v in self.sampling_arrays(rows, y).items() if k in known})

    def refit(self, rows, draws: int = 1000, tune: int = 1000, chains: int = 4, seed: int | None = None,
              target_accept: float = 0.8):
        """Sample the posterior given only ``rows`` (indices into the design) — no recompilation.

        The compiled nutpie model is re-used with new ``pm.Data`` values (``with_data``),
        so k-fold, reloo and SBC refits cost sampling only. Returns the DataTree (no log-likelihood).
        The chains run on all cores, except in a worker process of :mod:`glmm_bayes.parallel` (one core
        each there); nutpie's draws do not depend on that.
        """
        import nutpie

        from glmm_bayes.parallel import in_worker_process

        inference.check_settings(draws, tune, chains, seed, "nutpie", target_accept)
        compiled = self.compiled_with_data(self._checked_rows(rows))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with inference.explain_no_start(self.sampling_model):
                cores = 1 if in_worker_process() else min(chains, os.cpu_count() or 1)
                return nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                                     target_accept=target_accept, progress_bar=False, save_warmup=False,
                                     cores=cores)

    def pointwise_loglik(self, posterior, rows) -> "np.ndarray":
        """log p(y_i | θ_s) for the given rows under ``posterior`` draws: array (chain, draw, len(rows))."""
        import numpy as np
        import pymc as pm

        rows = np.asarray(rows)
        model = self.pymc_model
        full = data_arrays(self.design, self.prior_set)
        try:
            with model:
                pm.set_data(data_arrays(self.design, self.prior_set, rows), coords={"obs": np.arange(len(rows))})
            post = posterior["posterior"].to_dataset() if hasattr(posterior, "children") else posterior
            ll = inference.add_log_likelihood(model, xr_tree(post), observed=False)
            return ll["log_likelihood"]["y"].values
        finally:
            with model:
                pm.set_data(full, coords={"obs": np.arange(self.design.n)})

    def prior_predictive(self, draws: int = 500, seed: int | None = None):
        """Draws from the prior predictive: a DataTree with ``prior`` and ``prior_predictive`` groups.

        An increasing vector (ordinal cutpoints: iid prior restricted to the ordered region) is drawn
        as the sorted iid draws — exactly the restricted prior (order statistics) — and y is simulated
        given those.
        """
        import numpy as np
        import pymc as pm
        import xarray as xr

        if self.design.family.open_unit:
            return self._prior_predictive_numpy(draws, seed)
        with self.pymc_model:
            prior = pm.sample_prior_predictive(draws=draws, random_seed=seed)
        ordered = [p.name for p in self.design.family.aux if p.ordered]
        if not ordered:
            return prior
        params = prior["prior"].to_dataset()
        for name in ordered:
            params[name] = params[name].copy(data=np.sort(params[name].values, axis=-1))
        with self.pymc_model, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            simulated = pm.sample_posterior_predictive(xr.DataTree.from_dict({"posterior": params}),
                                                       var_names=["y"], random_seed=seed, progressbar=False)
        prior["prior"] = xr.DataTree(params)
        prior["prior_predictive"] = xr.DataTree(simulated["posterior_predictive"].to_dataset())
        return prior

    def _prior_predictive_numpy(self, draws: int, seed: int | None):
        """Prior draws from PyMC, outcomes from the family's NumPy simulator (as the posterior predictive).

        For beta outcomes: PyMC draws them with ``scipy.stats.beta.rvs``, which does not return for shapes
        near 1e-300, and the vague default ``phi ~ gamma(0.01, 0.01)`` gives such shapes.
        """
        import pymc as pm
        import xarray as xr

        from glmm_bayes.checks import posterior_predictive

        model = self.pymc_model
        names = [v.name for v in model.free_RVs] + [v.name for v in model.deterministics]
        with model:
            prior = pm.sample_prior_predictive(draws=draws, var_names=names, random_seed=seed)
        as_fit = Fit(self, xr.DataTree.from_dict({"posterior": prior["prior"].to_dataset()}), check=False)
        y = posterior_predictive(as_fit, seed)
        prior["prior_predictive"] = xr.DataTree(xr.Dataset({"y": y}))  # the simulator keeps y inside (0, 1)
        return prior

    def plot_prior_predictive(self, draws: int = 200, seed: int | None = 0):
        """Observed outcome against outcomes simulated from the priors alone."""
        import matplotlib.pyplot as plt
        import numpy as np

        prior = self.prior_predictive(draws, seed)["prior_predictive"]["y"].values.reshape(draws, -1)
        y = self.design.response.y
        if self.design.family.ordinal:  # PyMC simulates category codes 0..K-1; show the scores
            prior = self.design.response.scores[prior.astype(int)]
        fig, ax = plt.subplots(figsize=(6, 4))
        lo, hi = np.percentile(prior, [1, 99])
        bins = np.linspace(min(lo, y.min()), max(hi, y.max()), 40)
        ax.hist(prior[: min(draws, 50)].ravel(), bins=bins, density=True, alpha=0.5, label="prior predictive")
        ax.hist(y, bins=bins, density=True, histtype="step", color="k", lw=2, label="observed")
        ax.set_title(f"Prior predictive check: {self.design.response.name}")
        ax.set_xlabel(self.design.response.name)
        ax.set_ylabel("density")
        ax.legend()
        fig.tight_layout()
        return fig

    def __repr__(self) -> str:
        d = self.design
        groups = ", ".join(f"{b.label} ({len(b.levels)} levels: {', '.join(b.columns)}"
                           f"{', correlated' if b.correlated else ''})" for b in d.blocks) or "none"
        return (f"GLMM: {self.spec.formula}\n  family {d.family.name} (link {d.link}); {d.n} observations\n"
                f"  fixed effects: {', '.join(d.X_columns) or 'none'}\n  group-level: {groups}")
