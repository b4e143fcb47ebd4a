"""NUTS sampling through one of three backends, then convergence diagnostics in plain words.

Backends: ``"nutpie"`` (Rust NUTS on a numba-compiled log density; the
default; timings in ``benchmarks/README.md``), ``"numpyro"`` (JAX) and
``"pymc"``. All return an ArviZ ``DataTree`` with ``posterior``,
``sample_stats``, ``log_likelihood`` (pointwise, per row; optional) and ``observed_data``.
The same seed gives the same draws for a given backend.

Ctrl-C (``KeyboardInterrupt``) during sampling keeps the draws made so far where the
backend allows it: nutpie (sampled in the background, then aborted) and PyMC (which
returns its partial trace itself). Chains are trimmed to a common length, choosing the
number of chains that keeps the most draws; the result is marked
``idata.attrs["interrupted"] = 1`` (``"interrupted_draws"``: draws per chain kept), a
:class:`SamplingInterrupted` warning says so and :func:`diagnose` reports it. An
interrupt during warm-up, or with the NumPyro backend (one compiled JAX loop), keeps
nothing: the ``KeyboardInterrupt`` propagates.

Example
-------
>>> # idata = sample(model, draws=1000, tune=1000, chains=4, seed=1, backend="nutpie")
>>> # report = diagnose(idata, params)        # -> Diagnostics, warnings issued
"""

from __future__ import annotations

import itertools
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr

from glmm_bayes.convergence import rank_diagnostics
from glmm_bayes.errors import GLMMInputError, warn_user

BACKENDS = ("nutpie", "numpyro", "pymc")
ADAPTATIONS = ("diag", "low_rank")  # nutpie's mass-matrix adaptation
DEFAULT_BACKEND = "nutpie"
RHAT_MAX = 1.01
VI_K_MAX = 0.7  # Pareto k above which a variational approximation is not trusted (Yao et al. 2018)
ESS_MIN = 400
BFMI_MIN = 0.3


class ConvergenceWarning(UserWarning):
    """The sampler's output does not pass a convergence check."""


class SamplingInterrupted(UserWarning):
    """Sampling was stopped with Ctrl-C; the fit holds the draws made so far."""


INTERRUPTED_MESSAGE = ("sampling interrupted after {draws} draws per chain ({chains} chain(s) kept); the fit "
                       "holds the draws so far, diagnostics are unreliable")


def check_settings(draws: int, tune: int, chains: int, seed, backend: str, target_accept: float) -> None:
    """Refuse impossible sampler settings with a clear message."""
    for name, value, low in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise GLMMInputError(f"{name} must be a whole number >= {low}, got {value!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise GLMMInputError(f"seed must be a non-negative whole number, got {seed!r}")
    if backend not in BACKENDS:
        raise GLMMInputError(f"unknown backend '{backend}'; choose one of: {', '.join(BACKENDS)}")
    if not 0 < target_accept < 1:
        raise GLMMInputError(f"target_accept must be between 0 and 1, got {target_accept!r}")


def sample(model, *, draws: int = 1000, tune: int = 1000, chains: int = 4, seed: int | None = None,
           backend: str = DEFAULT_BACKEND, target_accept: float = 0.8, progressbar: bool = True,
           compiled=None, adaptation: str = "diag", loglik_model=None, log_likelihood: bool = True):
    """Run NUTS on ``model``; return a DataTree with the pointwise log-likelihood added.

    ``loglik_model``: the model whose rows the pointwise log-likelihood is for, when ``model`` samples
    the same parameters on other rows (identical Bernoulli rows aggregated into binomial counts).
    ``log_likelihood=False`` leaves it out (chains × draws × rows floats: 32 GB at 10⁶ rows × 4,000
    draws); :meth:`glmm_bayes.Fit.ensure_log_likelihood` computes it when LOO/WAIC need it.

    ``compiled`` is a nutpie compiled model to re-use (no recompilation). ``adaptation``
    (nutpie only): ``"diag"`` mass matrix (default) or ``"low_rank"`` — better when a few
    directions are strongly correlated (e.g. an intercept with well-informed, non-centred
    group effects: bulk ESS 12 → 185 on the gamma case of tests/test_recovery.py) but much
    slower per draw on large group-level blocks (hospital model: 127 vs 13 leapfrog steps).
    """
    check_settings(draws, tune, chains, seed, backend, target_accept)
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    if backend == "nutpie":
        if adaptation not in ADAPTATIONS:
            raise GLMMInputError(f"adaptation must be one of {', '.join(ADAPTATIONS)}, got {adaptation!r}")
        idata = _sample_nutpie(model, draws, tune, chains, seed, target_accept, progressbar, compiled, adaptation)
    else:
        import pymc as pm

        kwargs = {}
        if backend == "numpyro":
            kwargs["nuts_sampler_kwargs"] = {"chain_method": numpyro_chain_method(chains)}
            enable_jax_cache()
        else:
            kwargs["cores"] = min(chains, os.cpu_count() or 1)
        with model:
            try:
                with explain_no_start(model):
                    idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed,
                                      nuts_sampler=backend, target_accept=target_accept,
                                      progressbar=progressbar, compute_convergence_checks=False,
                                      idata_kwargs={"log_likelihood": False}, **kwargs)
            except ValueError as exc:  # PyMC after Ctrl-C during warm-up: nothing to keep
                if "Not enough samples to build a trace" in str(exc):
                    raise KeyboardInterrupt("sampling interrupted during warm-up: no draws to keep") from None
                raise
        sizes = idata["posterior"].sizes
        if backend == "pymc" and (sizes["draw"] < draws or sizes["chain"] < chains):  # PyMC swallowed a Ctrl-C
            idata = keep_partial(idata)
    return _finish(model if loglik_model is None else loglik_model, idata, log_likelihood)


def _finish(model, idata, log_likelihood: bool):
    """Add the pointwise log-likelihood (when asked) and the observed data to a sampler's output."""
    if log_likelihood:
        return add_log_likelihood(model, idata)
    return add_observed_data(model, idata)


VI_METHODS = ("advi", "fullrank_advi")


def fit_vi(model, *, draws: int = 1000, steps: int = 30_000, seed: int | None = None, method: str = "advi",
           progressbar: bool = False, loglik_model=None, log_likelihood: bool = True):
    """Variational inference (PyMC ADVI) for data too big for NUTS; a DataTree like :func:`sample`'s.

    Fits a Gaussian approximation q on the unconstrained space (``"advi"``: mean-field;
    ``"fullrank_advi"``: full covariance) by ``steps`` iterations of stochastic optimisation (Adam,
    learning rate 0.01), then
    draws ``draws`` points from q (one chain). Its quality is measured, not assumed: the Pareto k of
    the importance ratios log p(θ, y) − log q(θ) over the draws (Yao et al. 2018) is stored as
    ``attrs["vi_pareto_k"]`` — k < 0.5 good, 0.5–0.7 usable for means, > 0.7 the approximation is
    unreliable (use NUTS).
    """
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt
    from arviz_stats.base import array_stats
    from pytensor.graph import vectorize_graph
    from scipy.stats import multivariate_normal

    if method not in VI_METHODS:
        raise GLMMInputError(f"vi method must be one of {', '.join(VI_METHODS)}, got {method!r}")
    if not isinstance(steps, int) or steps < 100:
        raise GLMMInputError(f"vi steps must be a whole number >= 100, got {steps!r}")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        approx = pm.fit(steps, method=method, model=model, random_seed=seed, progressbar=progressbar,
                        obj_optimizer=pm.adam(learning_rate=0.01))  # PyMC's default (adagrad) barely moves
                                                                   # the scales in 10⁴ steps
    mean = approx.mean.eval()
    chol = np.diag(approx.std.eval()) if method == "advi" else np.linalg.cholesky(approx.cov.eval())
    z = mean + np.random.default_rng(seed).standard_normal((draws, len(mean))) @ chol.T
    log_q = multivariate_normal(mean, chol @ chol.T, allow_singular=True).logpdf(z)

    ordering = approx.groups[0].ordering
    q = pt.matrix("q", dtype="float64")
    by_name = {v.name: v for v in model.value_vars}
    replace = {by_name[name]: q[:, slc].reshape((q.shape[0], *shape)) for name, (_, slc, shape, _) in ordering.items()}
    rvs = list(model.free_RVs) + list(model.deterministics)
    outputs = vectorize_graph([model.logp(jacobian=True)] + model.replace_rvs_by_values(rvs), replace)
    evaluate = pytensor.function([q], outputs, on_unused_input="ignore")
    log_p, *values = evaluate(z)
    _, khat = array_stats.psislw(np.asarray(log_p) - log_q)

    posterior = {}
    for rv, value in zip(rvs, values):  # value: (draws, *shape)
        value = np.asarray(value)
        dims = model.named_vars_to_dims.get(rv.name) or tuple(f"{rv.name}_dim_{i}" for i in range(value.ndim - 1))
        posterior[rv.name] = xr.DataArray(value[None], dims=("chain", "draw", *dims))
    used = {d for da in posterior.values() for d in da.dims}
    ds = xr.Dataset(posterior).assign_coords({k: list(v) for k, v in model.coords.items()
                                              if k in used and v is not None})
    idata = xr.DataTree.from_dict({"posterior": ds.assign_coords(chain=[0], draw=np.arange(draws))})
    idata.attrs.update({"glmm_method": "vi", "vi_method": method, "vi_steps": steps,
                        "vi_pareto_k": float(khat), "vi_final_loss": float(approx.hist[-1])})
    return _finish(model if loglik_model is None else loglik_model, idata, log_likelihood)


def numpyro_chain_method(chains: int) -> str:
    """How NumPyro runs the chains on JAX's default device: one after another on a CPU (JAX sees the
    CPU as one device, and its operations already use the cores), side by side on accelerators.

    With ``chains`` accelerators or more, one chain per device (``"parallel"``); on fewer, all chains as
    one batched computation on the first (``"vectorized"``), which costs about one chain's time on a GPU.

    Example::

        >>> numpyro_chain_method(4)  # on a machine without an accelerator
        'sequential'
    """
    import jax

    if jax.default_backend() == "cpu":
        return "sequential"
    return "parallel" if jax.local_device_count() >= chains else "vectorized"


def enable_jax_cache() -> None:
    """Turn on JAX's persistent compilation cache (``<PyTensor's compile dir>/jax``) unless the user has set
    one (``JAX_COMPILATION_CACHE_DIR`` or ``jax.config``): a later process re-uses the jitted sampler instead of
    compiling it again, as numba's cache does for nutpie."""
    import jax
    import pytensor

    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", str(Path(pytensor.config.base_compiledir) / "jax"))


def compile_nutpie(model):
    """Compile ``model`` for nutpie once (numba backend); the result can be sampled many times. The
    compiled machine code is cached on disk, so a later process loads it (:mod:`glmm_bayes.compiled`)."""
    from glmm_bayes.compiled import compile_model

    return compile_model(model)


def _sample_nutpie(model, draws, tune, chains, seed, target_accept, progressbar, compiled, adaptation="diag"):
    import nutpie

    compiled = compiled if compiled is not None else compile_nutpie(model)
    sampler = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                            target_accept=target_accept, progress_bar=progressbar, save_warmup=False,
                            cores=min(chains, os.cpu_count() or 1), adaptation=adaptation, blocking=False)
    try:
        with explain_no_start(model):
            return sampler.wait()
    except KeyboardInterrupt:
        partial = sampler.abort()  # stops the chains, returns what they drew (NaN-padded to one length)
        return keep_partial(partial)
    except BaseException:
        sampler.cancel()
        raise


# how the samplers say that no jittered start had a finite log density and gradient (nutpie; PyMC)
NO_START = ("All initialization points failed", "Initial evaluation of model at starting point failed")


@contextmanager
def explain_no_start(model):
    """Re-raise a sampler's "no finite start" error as a :class:`GLMMInputError` that names the
    log-density terms that are not finite at the model's start and what to check.

    >>> # with explain_no_start(model):
    >>> #     nutpie.sample(compiled)  # GLMMInputError: "... not finite at the start: y (the outcome's likelihood)"
    """
    try:
        yield
    except RuntimeError as err:  # nutpie's error, and PyMC's SamplingError (a RuntimeError)
        if not any(text in str(err) for text in NO_START):
            raise
        logps = model.point_logps(model.initial_point())
        bad = [("y (the outcome's likelihood)" if k == "y" else k) for k, v in logps.items() if not np.isfinite(v)]
        where = f"; not finite at the start: {', '.join(bad)}" if bad else ""
        raise GLMMInputError(
            f"sampling found no starting point where the log density and its gradient are finite{where}. Usually "
            "a prior far from the data's scale (e.g. a slope prior centred at 2000) or a column on an extreme "
            "scale: check model.priors, rescale the columns, or give priors on the scale of the data.") from None


def _chain_lengths(idata) -> np.ndarray:
    """Draws per chain that are complete (nutpie pads chains that stopped early with NaN)."""
    posterior = idata["posterior"].to_dataset()
    n_chain, n_draw = posterior.sizes["chain"], posterior.sizes["draw"]
    done = np.ones((n_chain, n_draw), dtype=bool)
    for da in posterior.data_vars.values():
        if np.issubdtype(da.dtype, np.floating):
            values = da.transpose("chain", "draw", ...).values.reshape(n_chain, n_draw, -1)
            done &= ~np.isnan(values).any(axis=2)
    return np.argmin(np.c_[done, np.zeros(n_chain, bool)], axis=1)  # length of each chain's complete prefix


def keep_partial(idata):
    """Keep the draws of an interrupted run: trim chains to one length, mark and announce it.

    Chooses how many chains to keep so that (chains kept) × (shortest kept chain) is
    largest, as PyMC does. Raises ``KeyboardInterrupt`` when there is no draw to keep.
    """
    lengths = _chain_lengths(idata)
    order = np.argsort(-lengths, kind="stable")  # longest first
    totals = lengths[order] * np.arange(1, len(order) + 1)
    k = int(np.argmax(totals[::-1])) if totals.size else 0
    k = len(order) - k  # the largest number of chains reaching the best total
    n = int(lengths[order][k - 1]) if k else 0
    if n == 0:
        raise KeyboardInterrupt("sampling interrupted during warm-up: no draws to keep")
    keep = np.sort(order[:k])
    for name, node in list(idata.children.items()):
        ds = node.to_dataset()
        if "chain" not in ds.dims:
            continue
        ds = ds.isel(chain=keep)
        if "draw" in ds.dims and name in ("posterior", "sample_stats"):
            ds = ds.isel(draw=slice(0, n))
        idata[name] = xr.DataTree(ds.assign_coords(chain=np.arange(k)))
    idata.attrs["interrupted"] = 1
    idata.attrs["interrupted_draws"] = n
    warn_user(INTERRUPTED_MESSAGE.format(draws=n, chains=k), SamplingInterrupted)
    return idata


def add_log_likelihood(model, idata, observed: bool = True):
    """Add ``log_likelihood`` (pointwise, per data row) and ``observed_data`` groups to ``idata``."""
    import pymc as pm

    free = {v.name for v in model.free_RVs} | {v.name for v in model.deterministics}
    posterior = idata["posterior"].to_dataset()
    posterior = posterior[[v for v in posterior.data_vars if v in free]]
    saved = dict(model.rvs_to_initial_values)  # PyMC cannot copy a model with initial values (ordinal
    model.rvs_to_initial_values.update(dict.fromkeys(saved))  # cutpoints have one); they are not needed here
    try:
        loglik = pm.compute_log_likelihood(posterior_as_tree(posterior), model=model, progressbar=False,
                                           extend_inferencedata=False)
    finally:
        model.rvs_to_initial_values.update(saved)
    ll = loglik if isinstance(loglik, xr.Dataset) else loglik["log_likelihood"].to_dataset()
    idata["log_likelihood"] = xr.DataTree(ll)
    return add_observed_data(model, idata) if observed else idata


def add_observed_data(model, idata):
    """Add the ``observed_data`` group (the response, one value per data row) when it is missing."""
    if "observed_data" not in idata.children:
        y = model["y_obs"].get_value()
        idata["observed_data"] = xr.DataTree(xr.Dataset({"y": ("obs", y)}, coords={"obs": np.arange(len(y))}))
    return idata


def posterior_as_tree(posterior: xr.Dataset) -> xr.DataTree:
    return xr.DataTree.from_dict({"posterior": posterior})


# ---------------------------------------------------------------- diagnostics
@dataclass
class Diagnostics:
    """Convergence summary of a fit; ``messages`` are the plain-language warnings."""

    max_rhat: float
    max_rhat_param: str
    min_ess_bulk: float
    min_ess_bulk_param: str
    min_ess_tail: float
    min_ess_tail_param: str
    divergences: int
    draws_total: int
    bfmi: list[float]
    seconds: float = 0.0
    messages: list[str] = field(default_factory=list)
    vi_pareto_k: float | None = None  # variational fits: Pareto k of the importance ratios

    @property
    def ok(self) -> bool:
        return not self.messages

    def table(self):
        import pandas as pd

        rows = [
            ("max R-hat", f"{self.max_rhat:.3f}", self.max_rhat_param, self.max_rhat <= RHAT_MAX),
            ("min bulk ESS", f"{self.min_ess_bulk:.0f}", self.min_ess_bulk_param, self.min_ess_bulk >= ESS_MIN),
            ("min tail ESS", f"{self.min_ess_tail:.0f}", self.min_ess_tail_param, self.min_ess_tail >= ESS_MIN),
            ("divergent transitions", str(self.divergences), "", self.divergences == 0),
            ("min BFMI", f"{min(self.bfmi):.2f}" if self.bfmi else "n/a", "",
             not self.bfmi or min(self.bfmi) >= BFMI_MIN),
        ]
        if self.vi_pareto_k is not None:  # a variational fit: only its Pareto k says anything
            rows = [("VI Pareto k", f"{self.vi_pareto_k:.2f}", "importance ratios p/q", self.vi_pareto_k <= VI_K_MAX)]
        return pd.DataFrame(rows, columns=["check", "value", "where", "pass"])

    def __str__(self) -> str:
        if self.vi_pareto_k is not None:  # a variational fit has one chain of independent draws: no R-hat
            lines = [f"variational fit: Pareto k of the importance ratios {self.vi_pareto_k:.2f} "
                     f"(reliable below {VI_K_MAX})"]
            lines += [f"WARNING: {m}" for m in self.messages] or ["The approximation passed its check."]
            return "\n".join(lines)
        lines = [f"R-hat max {self.max_rhat:.3f} ({self.max_rhat_param}); bulk ESS min "
                 f"{self.min_ess_bulk:.0f} ({self.min_ess_bulk_param}); tail ESS min {self.min_ess_tail:.0f} "
                 f"({self.min_ess_tail_param}); divergences {self.divergences}/{self.draws_total}"
                 + (f"; BFMI min {min(self.bfmi):.2f}" if self.bfmi else "")]
        lines += [f"WARNING: {m}" for m in self.messages] or ["All convergence checks passed."]
        return "\n".join(lines)


def diagnose(idata, params: xr.Dataset, seconds: float = 0.0, warn: bool = True,
             group_labels: dict[str, str] | None = None, divergence_hint: str = "") -> Diagnostics:
    """Check R-hat, ESS (on ``params`` and the group effects as sampled), divergences and BFMI.

    ``group_labels`` (block key → grouping factor as written) names each group effect the way brms does,
    ``r_<group>[<level>,<column>]``, in the worst-parameter fields and warnings; without it they keep the
    sampler's variable names (``z_<key>[i]``). ``divergence_hint`` (:func:`divergence_hint`) ends the
    divergence warning with what the model itself suggests."""
    checked = params.copy()
    posterior = idata["posterior"].to_dataset()
    for name in posterior.data_vars:
        if name.startswith(("z_", "u_", "v_")):
            checked[name] = posterior[name]
    rhat, ess_bulk, ess_tail = _rank_diagnostics(checked, group_labels or {})
    stats = idata["sample_stats"].to_dataset() if "sample_stats" in idata.children else xr.Dataset()
    divergences = int(stats["diverging"].sum()) if "diverging" in stats else 0
    bfmi = []
    if "energy" in stats:
        energy = stats["energy"].values
        bfmi = [float(v) for v in np.square(np.diff(energy, axis=1)).mean(axis=1) / np.var(energy, axis=1)]
    n_total = int(posterior.sizes["chain"] * posterior.sizes["draw"])
    d = Diagnostics(*_extreme(rhat, max), *_extreme(ess_bulk, min), *_extreme(ess_tail, min),
                    divergences, n_total, bfmi, seconds)
    d.messages = _messages(d, posterior.sizes["chain"], divergence_hint)
    if idata.attrs.get("glmm_method") == "vi":  # independent draws from an approximation: R-hat/ESS say nothing
        d.vi_pareto_k = float(idata.attrs["vi_pareto_k"])
        d.messages = [] if d.vi_pareto_k <= VI_K_MAX else [
            f"Variational approximation: Pareto k of the importance ratios is {d.vi_pareto_k:.2f} (> {VI_K_MAX}): "
            f"the approximation is far from the posterior, so its means and especially its intervals are "
            f"unreliable. Fit with NUTS (method='nuts'), or use this only as a rough first look."]
    if int(idata.attrs.get("interrupted", 0)):
        d.messages.insert(0, f"Sampling was interrupted (Ctrl-C) after {posterior.sizes['draw']} draws per chain: "
                             f"the fit holds a partial run and these diagnostics are unreliable. Fit again to "
                             f"the end before trusting it.")
    if warn:
        for message in d.messages:
            warn_user(message, ConvergenceWarning)
    return d


def _rank_diagnostics(ds: xr.Dataset, group_labels: dict[str, str]
                      ) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """R-hat, bulk and tail ESS of every scalar in ``ds``, finite values only; one vectorised pass
    (:mod:`glmm_bayes.convergence`). Scalars are named by :func:`_scalar_names`; where two share a name (a
    group effect and its standardised form) the worse value is kept."""
    names, columns = [], []
    for name, da in ds.data_vars.items():
        da = da.transpose("chain", "draw", ...)
        columns.append(da.values.reshape(da.shape[0], da.shape[1], -1))
        names += _scalar_names(name, da, group_labels)
    if not columns:
        return {}, {}, {}
    out = ({}, {}, {})
    for values, table, worse in zip(rank_diagnostics(np.concatenate(columns, axis=2)), out, (max, min, min)):
        for n, v in zip(names, values):
            if np.isfinite(v):
                table[n] = worse(v, table.get(n, v))
    return out


def _scalar_names(name: str, da: xr.DataArray, group_labels: dict[str, str]) -> list[str]:
    """One name per scalar of ``da`` (chain, draw, ...), in C order: ``name`` for a scalar, ``name[i]`` for a
    vector, and a group effect of a block in ``group_labels`` as brms names it, ``r_<group>[<level>,<column>]``.

    >>> da = xr.DataArray(np.zeros((1, 2, 2, 1)), dims=("chain", "draw", "k__level", "k__coef"),
    ...                   coords={"k__level": ["a", "b"], "k__coef": ["Intercept"]})
    >>> _scalar_names("z_k", da, {"k": "school"})
    ['r_school[a,Intercept]', 'r_school[b,Intercept]']
    """
    dims = da.dims[2:]
    if not dims:
        return [name]
    key = name[2:] if name.startswith(("z_", "u_", "v_")) else None
    if key in group_labels:
        coords = [da.coords[d].values if d in da.coords else range(da.sizes[d]) for d in dims]
        return [f"r_{group_labels[key]}[{','.join(map(str, combo))}]" for combo in itertools.product(*coords)]
    size = int(np.prod([da.sizes[d] for d in dims]))
    return [f"{name}[{i}]" for i in range(size)] if size > 1 else [name]


def _extreme(values: dict[str, float], pick) -> tuple[float, str]:
    if not values:
        return float("nan"), ""
    key = pick(values, key=values.get)
    return values[key], key


def divergence_hint(design) -> str:
    """What a model's design says about its divergences: a count or positive family with a link that lets
    its mean reach zero (identity, inverse) diverges where the group effects push the mean there.

    >>> # divergence_hint(gb.GLMM("y ~ x + (1 | g)", df, family="poisson", link="identity").design)
    """
    family, link = design.family.name, design.link
    if link in ("identity", "inverse") and family in ("poisson", "negativebinomial", "gamma"):
        return (f" With the {link} link nothing keeps the {family} mean positive: where the linear predictor "
                f"(group effects included) gives a mean of 0 or below the likelihood is undefined and the "
                f"sampler's steps diverge; the log link (the default) keeps the mean positive.")
    return ""


def _messages(d: Diagnostics, chains: int, divergence_hint: str = "") -> list[str]:
    out = []
    if d.max_rhat > RHAT_MAX:
        out.append(f"R-hat is {d.max_rhat:.3f} for {d.max_rhat_param} (should be <= {RHAT_MAX}): the chains "
                   f"have not converged to the same distribution. Run longer (more tune and draws), check the "
                   f"model for weakly identified parameters, or give them more informative priors.")
    if chains < 2:
        out.append("Only one chain was run, so R-hat cannot detect non-convergence; run at least 4 chains.")
    if d.min_ess_bulk < ESS_MIN or d.min_ess_tail < ESS_MIN:
        which, value = ((d.min_ess_bulk_param, d.min_ess_bulk) if d.min_ess_bulk <= d.min_ess_tail
                        else (d.min_ess_tail_param, d.min_ess_tail))
        out.append(f"Effective sample size is only {value:.0f} for {which} (want >= {ESS_MIN} bulk and "
                   f"tail): posterior means and interval ends are imprecise. Run more draws or chains.")
    if d.divergences:
        out.append(f"{d.divergences} of {d.draws_total} transitions after warm-up were divergent: the "
                   f"posterior may be explored incompletely and estimates biased. Increase target_accept "
                   f"(e.g. 0.95), or use tighter priors on group-level standard deviations.{divergence_hint}")
    if d.bfmi and min(d.bfmi) < BFMI_MIN:
        out.append(f"Low energy BFMI ({min(d.bfmi):.2f} < {BFMI_MIN}) in at least one chain: the sampler "
                   f"moves slowly through the posterior's tails. Reparameterise or use more informative "
                   f"priors, and run longer.")
    return out


class Timer:
    """Context manager measuring wall time in seconds (``.seconds``)."""

    def __enter__(self):
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False
