"""Benchmark: wall time to >= 400 bulk and tail ESS on every population-level parameter, compile included.

Models (``--model a,b,c``; the issue's (a)-(c); (d), 10^6 rows, is ``benchmarks/scale.py big``)::

    (a) hospital(seed=1), 8,525 patients / 407 doctors, bernoulli:
        remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)
    (b) lme4 InstEval (../shared/data), 73,421 ratings, crossed, gaussian:
        y ~ service + (1 | s) + (1 | d)
    (c) lme4 grouseticks (../shared/data), 403 chicks, poisson, nested + observation-level:
        TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)

Configurations (all 4 chains, seed 1):

    gb_nutpie       glmm_bayes, backend="nutpie"   (the default; the reference for the ratio column)
    gb_numpyro      glmm_bayes, backend="numpyro"
    gb_pymc         glmm_bayes, backend="pymc"
    bambi_pymc      bambi default sampler (PyMC NUTS)     } bambi's (1 + IL6 | DID) is UNcorrelated:
    bambi_nutpie    bambi inference_method="nutpie"       } no cor parameter, and its own default priors
    bambi_numpyro   bambi inference_method="numpyro"      }
    numpyro_hand    the same model and glmm_bayes' default priors written directly in NumPyro
                    (non-centred effects, LKJCholesky for a correlated block, mean-centred columns),
                    NUTS, chain_method="sequential", float64
    gb_nutpie_centred  (a) only, DIAGNOSTIC: gb_nutpie on data with the numeric predictors mean-centred
                    (glmm_bayes centres internally too, so this should match gb_nutpie)
    gb_nutpie_at_means (a) only: gb_nutpie with parameterization="noncentred_at_means" (the same model and
                    posterior, group effects drawn at the slope means; what "auto" chooses for (a) now)
    gb_nutpie_plain (a) only: gb_nutpie with parameterization="noncentred" (what "auto" chose for (a) up to
                    session 9)

Method: start at draws = tune = 500 per chain; while min bulk or tail ESS < 400 double draws (tune =
max(500, draws / 2)) and rerun from scratch, up to draws = 4000. Each attempt runs in a fresh
Python subprocess, so model build + compilation are always inside the timed region (library
imports and data simulation are not). ``seconds`` is the wall time of the successful (last)
attempt; ``seconds_all_attempts`` adds up all attempts. A configuration stops doubling early when its
attempts so far plus the next attempt's estimated time would exceed ``--config-budget`` (default 1800 s).

Usage (from the repository root)::

    .venv/bin/python benchmarks/backends.py                 # full run -> results/backends_<model>.csv,
                                                            #   results/backends_summary.csv, results/backends.png
    .venv/bin/python benchmarks/backends.py --model b       # one model
    .venv/bin/python benchmarks/backends.py --quick         # smoke test: draws = tune = 200, no doubling
    .venv/bin/python benchmarks/backends.py --only gb_nutpie,numpyro_hand
    .venv/bin/python benchmarks/backends.py --cold-cache    # empty PyTensor compile cache per attempt

See benchmarks/README.md for caveats (on-disk compile caches, cores, priors).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

SHARED_DATA = Path(os.environ.get("GLMM_BAYES_SHARED", HERE.parent.parent / "shared")) / "data"


def load_hospital():
    import glmm_bayes as gb

    return gb.datasets.hospital(seed=1)


def load_insteval():
    import pandas as pd

    data = pd.read_csv(SHARED_DATA / "InstEval.csv")
    return data.astype({"s": str, "d": str})


def load_grouseticks():
    import pandas as pd

    data = pd.read_csv(SHARED_DATA / "grouseticks.csv")
    return data.astype({"YEAR": str, "BROOD": str, "INDEX": str, "LOCATION": str})


# The models (a)-(c); (d) (10^6 rows) is benchmarks/scale.py big.
MODELS = {
    "a": {"name": "hospital", "load": load_hospital, "family": "bernoulli",
          "formula": "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)",
          "what": "hospital(seed=1): 8,525 patients, 407 doctors; correlated random intercept + slope"},
    "b": {"name": "insteval", "load": load_insteval, "family": "gaussian",
          "formula": "y ~ service + (1 | s) + (1 | d)",
          "what": "lme4 InstEval: 73,421 ratings, 2,972 students x 1,128 lecturers, crossed"},
    "c": {"name": "grouseticks", "load": load_grouseticks, "family": "poisson",
          "formula": "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
          "what": "lme4 grouseticks: 403 chicks, 118 broods in 63 locations, observation-level INDEX"},
}
CHAINS = 4
SEED = 1
ESS_TARGET = 400
START_DRAWS = 500
MAX_DRAWS = 4000
MIN_TUNE = 500

CONFIGS = {
    "gb_nutpie": "glmm_bayes backend='nutpie' (default)",
    "gb_numpyro": "glmm_bayes backend='numpyro' (chain_method sequential)",
    "gb_pymc": "glmm_bayes backend='pymc'",
    "bambi_pymc": "bambi default (PyMC NUTS); random slope UNcorrelated, bambi priors",
    "bambi_nutpie": "bambi inference_method='nutpie'; random slope UNcorrelated, bambi priors",
    "bambi_numpyro": "bambi inference_method='numpyro'; random slope UNcorrelated, bambi priors",
    "numpyro_hand": "hand-written NumPyro (non-centred, LKJCholesky), chain_method sequential, float64",
    "gb_nutpie_centred": "DIAGNOSTIC: glmm_bayes nutpie with IL6, CRP, LengthofStay, Experience mean-centred in "
                         "the data (same model up to the intercept's meaning; default priors recomputed)",
    "gb_nutpie_at_means": "glmm_bayes nutpie, parameterization='noncentred_at_means' (same model and posterior; "
                          "what 'auto' chose for (a) in session 10; since session 11 it picks 'centred_intercept')",
    "gb_nutpie_plain": "glmm_bayes nutpie, parameterization='noncentred' (same model and posterior; what 'auto' "
                       "chose for (a) up to session 9)",
}
REFERENCE = "gb_nutpie"

COLUMNS = ["config", "draws", "seconds", "min_ess_bulk", "min_ess_tail", "ess_per_s",
           "ratio_vs_glmm_bayes_default", "tune", "attempts", "seconds_all_attempts", "build_s",
           "n_params", "min_ess_bulk_param", "min_ess_tail_param", "max_rhat", "divergences", "mean_steps",
           "frac_max_depth", "mean_steps_per_chain", "gb_sha1", "run_started",
           "status", "error", "description"]


# ====================================================================== worker side
def _ess_table(draws: dict) -> dict:
    """Bulk/tail ESS and R-hat per parameter; ``draws`` maps label -> array (chain, draw)."""
    import arviz as az
    import numpy as np
    import xarray as xr

    ds = xr.Dataset({k: (("chain", "draw"), np.asarray(v, dtype=float)) for k, v in draws.items()})
    bulk = az.ess(ds, method="bulk")
    tail = az.ess(ds, method="tail")
    rhat = az.rhat(ds)
    return {k: {"ess_bulk": float(bulk[k]), "ess_tail": float(tail[k]), "r_hat": float(rhat[k])}
            for k in ds.data_vars}


MAX_TREE_STEPS = 2 ** 10 - 1  # leapfrog steps of a full depth-10 tree (every sampler's default max depth)


def _sampler_stats(idata) -> dict:
    """Divergences, mean leapfrog steps per draw, fraction of draws at max tree depth (post-warmup)."""
    import numpy as np

    out = {"divergences": -1, "mean_steps": float("nan"), "frac_max_depth": float("nan")}
    try:
        stats = idata["sample_stats"]
        stats = stats.to_dataset() if hasattr(stats, "to_dataset") else stats
        if "diverging" in stats:
            out["divergences"] = int(stats["diverging"].sum())
        if "n_steps" in stats:
            steps = np.asarray(stats["n_steps"].values, dtype=float)
            out["mean_steps"] = float(steps.mean())
            out["frac_max_depth"] = float((steps >= MAX_TREE_STEPS).mean())
            out["mean_steps_per_chain"] = [float(v) for v in steps.reshape(steps.shape[0], -1).mean(axis=1)]
    except Exception:  # noqa: BLE001 - a missing group is not worth failing the run
        pass
    return out


def _posterior(idata):
    post = idata["posterior"]
    return post.to_dataset() if hasattr(post, "to_dataset") else post


def _flatten_population(post) -> dict:
    """Every population-level variable of a bambi posterior, one (chain, draw) array per label."""
    out = {}
    for name, da in post.data_vars.items():
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        if any(d.endswith("__factor_dim") or d == "__obs__" for d in extra) or name.endswith("_offset"):
            continue  # group-level effects, not population-level
        if not extra:
            out[name] = da.values
        else:
            stacked = da.stack(_p=extra).transpose("chain", "draw", "_p")
            labels = [str(v) if not isinstance(v, tuple) else ",".join(map(str, v)) for v in stacked["_p"].values]
            for i, lab in enumerate(labels):
                out[f"{name}[{lab}]"] = stacked.values[..., i]
    return out


def run_gb(spec, data, backend, draws, tune, parameterization="auto"):
    import glmm_bayes as gb

    t0 = time.perf_counter()
    model = gb.GLMM(spec["formula"], data, family=spec["family"], parameterization=parameterization)
    model.pymc_model  # noqa: B018 - build now, so build_s is separate
    t_build = time.perf_counter() - t0
    fit = model.fit(draws=draws, tune=tune, chains=CHAINS, seed=SEED, backend=backend,
                    progressbar=False, warn=False)
    seconds = time.perf_counter() - t0
    table = fit.summary()
    params = {k: {"ess_bulk": float(r.ess_bulk), "ess_tail": float(r.ess_tail), "r_hat": float(r.r_hat)}
              for k, r in table.iterrows()}
    return seconds, t_build, params, _sampler_stats(fit.idata)


def run_bambi(spec, data, method, draws, tune):
    import bambi as bmb

    t0 = time.perf_counter()
    model = bmb.Model(spec["formula"], data, family=spec["family"])
    model.build()
    t_build = time.perf_counter() - t0
    idata = model.fit(draws=draws, tune=tune, chains=CHAINS, random_seed=SEED, inference_method=method,
                      progressbar=False)
    seconds = time.perf_counter() - t0
    return seconds, t_build, _ess_table(_flatten_population(_posterior(idata))), _sampler_stats(idata)


def _numpyro_prior(prior, numpyro_dist):
    """glmm_bayes prior (name, args) -> numpyro distribution (scalar or vector)."""
    name, args = prior
    if name == "normal":
        return numpyro_dist.Normal(*args)
    if name == "student_t":
        return numpyro_dist.StudentT(*args)
    if name == "half_normal":
        return numpyro_dist.HalfNormal(*args)
    if name == "half_cauchy":
        return numpyro_dist.HalfCauchy(*args)
    if name == "half_student_t":
        return numpyro_dist.FoldedDistribution(numpyro_dist.StudentT(args[0], 0.0, args[1]))
    if name == "exponential":
        return numpyro_dist.Exponential(*args)
    raise ValueError(f"numpyro_hand: no translation for prior {name}{args}")


def hand_inputs(spec: dict, data) -> dict:
    """Arrays and default priors for the hand-written model, from glmm_bayes' design (outside the timer).

    The columns of X other than the intercept are mean-centred, as a careful NumPyro user would do
    (bambi and glmm_bayes centre internally too); the raw intercept is recovered as a deterministic.
    """
    import numpy as np

    import glmm_bayes as gb

    model = gb.GLMM(spec["formula"], data, family=spec["family"])
    design, ps = model.design, model.prior_set
    assert all(ps.fixed[c].dist == "normal" for c in design.X_columns)
    X = np.array(design.X, dtype=float)
    means = X.mean(axis=0)
    intercept = design.X_columns.index("Intercept")
    centred = [j for j in range(X.shape[1]) if j != intercept]
    X[:, centred] -= means[centred]
    blocks = [{"label": b.label, "columns": list(b.columns), "codes": np.asarray(b.codes),
               "Z": np.asarray(b.Z, dtype=float), "n_levels": len(b.levels),
               "sd": (ps.sd[b.key].dist, list(ps.sd[b.key].args)),
               "cor": ps.cor[b.key].args[0] if b.correlated else None} for b in design.blocks]
    return {"X": X, "columns": list(design.X_columns), "means": means, "intercept": intercept,
            "b_mu": np.array([ps.fixed[c].args[0] for c in design.X_columns]),
            "b_sigma": np.array([ps.fixed[c].args[1] for c in design.X_columns]),
            "blocks": blocks, "y": np.asarray(design.response.y),
            "aux": {k: (p.dist, list(p.args)) for k, p in ps.aux.items()}}


def hand_model(spec, inputs):
    """The model written directly in NumPyro: non-centred group effects, LKJCholesky for correlated blocks.

    Returns ``(model, y)``: call ``model(y=y)``. Turns on float64 (the precision of the PyMC-based samplers)."""
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as dist

    jax.config.update("jax_enable_x64", True)
    X = jnp.asarray(inputs["X"])
    blocks = [dict(b, codes=jnp.asarray(b["codes"]), Z=jnp.asarray(b["Z"]), sd=_numpyro_prior(b["sd"], dist))
              for b in inputs["blocks"]]
    family = spec["family"]
    y = jnp.asarray(inputs["y"], dtype=jnp.int32 if family in ("bernoulli", "poisson") else jnp.float64)
    sigma_prior = _numpyro_prior(inputs["aux"]["sigma"], dist) if family == "gaussian" else None
    b_mu, b_sigma = jnp.asarray(inputs["b_mu"]), jnp.asarray(inputs["b_sigma"])

    def model(y=None):
        b = numpyro.sample("b", dist.Normal(b_mu, b_sigma).to_event(1))
        eta = X @ b
        for k, blk in enumerate(blocks):
            n_cols = len(blk["columns"])
            sd = numpyro.sample(f"sd{k}", blk["sd"].expand([n_cols]).to_event(1))
            z = numpyro.sample(f"z{k}", dist.Normal(0.0, 1.0).expand([blk["n_levels"], n_cols]).to_event(2))
            if blk["cor"] is not None:
                L = numpyro.sample(f"L{k}", dist.LKJCholesky(n_cols, concentration=blk["cor"]))
                u = (z @ L.T) * sd  # rows ~ MVN(0, diag(sd) L L' diag(sd))
                numpyro.deterministic(f"cor{k}", L[1, 0])  # (L L')[1, 0] = L[1, 0] L[0, 0] = L[1, 0]
            else:
                u = z * sd
            eta = eta + (u[blk["codes"]] * blk["Z"]).sum(axis=-1)
        if family == "bernoulli":
            numpyro.sample("y", dist.BernoulliLogits(eta), obs=y)
        elif family == "poisson":
            numpyro.sample("y", dist.Poisson(jnp.exp(eta)), obs=y)
        elif family == "gaussian":
            numpyro.sample("y", dist.Normal(eta, numpyro.sample("sigma", sigma_prior)), obs=y)
        else:
            raise ValueError(f"numpyro_hand: no likelihood for family {family!r}")

    return model, y


def run_numpyro_hand(spec, inputs, draws, tune, chain_method="sequential"):
    """:func:`hand_model` sampled with NumPyro's NUTS; returns (seconds, build seconds, ESS table, stats)."""
    import jax
    import numpy as np
    from numpyro.infer import MCMC, NUTS

    t0 = time.perf_counter()
    model, y = hand_model(spec, inputs)
    mcmc = MCMC(NUTS(model, target_accept_prob=0.8), num_warmup=tune, num_samples=draws, num_chains=CHAINS,
                chain_method=chain_method, progress_bar=False)
    t_build = time.perf_counter() - t0
    mcmc.run(jax.random.PRNGKey(SEED), y=y, extra_fields=("diverging", "num_steps"))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    seconds = time.perf_counter() - t0
    b = np.asarray(samples["b"])
    i0, means = inputs["intercept"], inputs["means"]
    others = [j for j in range(b.shape[-1]) if j != i0]
    labels = {f"b_{c}": b[..., j] for j, c in enumerate(inputs["columns"])}
    labels["b_Intercept"] = b[..., i0] - b[..., others] @ means[others]  # back from the centred columns
    for k, blk in enumerate(inputs["blocks"]):
        for j, col in enumerate(blk["columns"]):
            labels[f"sd_{blk['label']}__{col}"] = np.asarray(samples[f"sd{k}"][..., j])
        if blk["cor"] is not None:
            labels[f"cor_{blk['label']}__{blk['columns'][0]}__{blk['columns'][1]}"] = np.asarray(samples[f"cor{k}"])
    if spec["family"] == "gaussian":
        labels["sigma"] = np.asarray(samples["sigma"])
    extra = mcmc.get_extra_fields(group_by_chain=True)
    steps = np.asarray(extra["num_steps"], dtype=float)
    stats = {"divergences": int(np.asarray(extra["diverging"]).sum()), "mean_steps": float(steps.mean()),
             "frac_max_depth": float((steps >= MAX_TREE_STEPS).mean()),
             "mean_steps_per_chain": [float(v) for v in steps.mean(axis=1)]}
    return seconds, t_build, _ess_table(labels), stats


def worker(model_key: str, config: str, draws: int, tune: int, out: Path, chain_method: str) -> None:
    """One attempt in this (fresh) process; writes a JSON result to ``out``."""
    import warnings

    warnings.filterwarnings("ignore")
    spec = MODELS[model_key]
    result = {"config": config, "draws": draws, "tune": tune, "gb_sha1": _package_hash()}
    try:
        # library imports and data simulation are not timed
        import arviz  # noqa: F401
        import numpy  # noqa: F401
        import pymc  # noqa: F401

        import glmm_bayes as gb

        data = spec["load"]()
        if config.startswith("gb_"):
            backend, parameterization = config[3:], "auto"
            if backend.endswith("_at_means"):
                backend, parameterization = backend[: -len("_at_means")], "noncentred_at_means"
            if backend.endswith("_plain"):
                backend, parameterization = backend[: -len("_plain")], "noncentred"
            if backend.endswith("_centred"):  # model (a) only
                backend = backend[: -len("_centred")]
                data = data.copy()
                for col in ("IL6", "CRP", "LengthofStay", "Experience"):
                    data[col] = data[col] - data[col].mean()
            if backend == "nutpie":
                import nutpie  # noqa: F401
            if backend == "numpyro":
                import numpyro  # noqa: F401
                import pymc.sampling.jax  # noqa: F401
            seconds, t_build, params, stats = run_gb(spec, data, backend, draws, tune, parameterization)
        elif config.startswith("bambi_"):
            import bambi  # noqa: F401

            method = config[6:]
            if method == "nutpie":
                import nutpie  # noqa: F401
            if method == "numpyro":
                import numpyro  # noqa: F401
                import pymc.sampling.jax  # noqa: F401
            seconds, t_build, params, stats = run_bambi(spec, data, method, draws, tune)
        elif config == "numpyro_hand":
            import numpyro  # noqa: F401

            inputs = hand_inputs(spec, data)
            seconds, t_build, params, stats = run_numpyro_hand(spec, inputs, draws, tune, chain_method)
        else:
            raise ValueError(f"unknown config {config!r}")
        result.update(status="ok", seconds=seconds, build_s=t_build, params=params, **stats)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        traceback.print_exc()
        result.update(status="failed", error=f"{type(exc).__name__}: {exc}"[:300])
    out.write_text(json.dumps(result))


# ====================================================================== driver side
def _package_hash() -> str:
    """Short sha1 of the glmm_bayes sources measured (the package changes under active development)."""
    import hashlib

    import glmm_bayes

    h = hashlib.sha1()
    for path in sorted(Path(glmm_bayes.__file__).parent.glob("*.py")):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:12]


def attempt(model_key: str, config: str, draws: int, tune: int, args, log_dir: Path) -> dict:
    """Run one attempt in a fresh subprocess; return its result dict."""
    env = dict(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_{config}_"))
    if args.cold_cache:
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS", ""),
                                                       f"base_compiledir={tmp / 'pytensor'}"]))
    out = tmp / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", config, "--model", model_key, "--draws", str(draws),
           "--tune", str(tune), "--result-file", str(out), "--chain-method", args.chain_method]
    log = log_dir / f"{config}_draws{draws}.log"
    t0 = time.perf_counter()
    try:
        with open(log, "w") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, timeout=args.timeout)
        if out.exists():
            result = json.loads(out.read_text())
        else:
            result = {"status": "failed", "error": f"worker exited with code {proc.returncode}, no result "
                                                  f"(see {log})"}
    except subprocess.TimeoutExpired:
        result = {"status": "failed", "error": f"timeout after {args.timeout} s"}
    result["process_s"] = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def summarise_attempt(result: dict) -> dict:
    params = result.get("params") or {}
    if not params:
        return {}
    bulk = {k: v["ess_bulk"] for k, v in params.items()}
    tail = {k: v["ess_tail"] for k, v in params.items()}
    rhat = {k: v["r_hat"] for k, v in params.items()}
    kb, kt = min(bulk, key=bulk.get), min(tail, key=tail.get)
    return {"min_ess_bulk": bulk[kb], "min_ess_bulk_param": kb, "min_ess_tail": tail[kt],
            "min_ess_tail_param": kt, "max_rhat": max(rhat.values()), "n_params": len(params)}


def target_reached(stats):
    """Whether an attempt (a dict) or the rows of a results table reached the target: min bulk and min tail
    ESS both >= ESS_TARGET."""
    return (stats["min_ess_bulk"] >= ESS_TARGET) & (stats["min_ess_tail"] >= ESS_TARGET)


def run_config(model_key: str, config: str, args, log_dir: Path, param_rows: list) -> dict:
    draws = args.start_draws
    row = {"config": config, "description": CONFIGS[config], "attempts": 0, "seconds_all_attempts": 0.0,
           "run_started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    while True:
        tune = draws if args.quick else max(MIN_TUNE, draws // 2)
        print(f"[{time.strftime('%H:%M:%S')}] {config}: draws={draws} tune={tune} ...", flush=True)
        result = attempt(model_key, config, draws, tune, args, log_dir)
        row["attempts"] += 1
        shas = [x for x in row.get("gb_sha1", "").split(">") if x]
        if result.get("gb_sha1") and (not shas or shas[-1] != result["gb_sha1"]):
            shas.append(result["gb_sha1"])  # glmm_bayes sources changed between attempts if > 1
        row["gb_sha1"] = ">".join(shas)
        row["seconds_all_attempts"] += result.get("seconds", result["process_s"])
        row.update(draws=draws, tune=tune)
        if result["status"] != "ok":
            row.update(status="failed", error=result.get("error", "?"))
            print(f"    FAILED: {row['error']}", flush=True)
            return row
        stats = summarise_attempt(result)
        row.update(stats, seconds=result["seconds"], build_s=result["build_s"], error="",
                   divergences=result["divergences"], mean_steps=result["mean_steps"],
                   frac_max_depth=result["frac_max_depth"],
                   mean_steps_per_chain=" ".join(f"{v:.0f}" for v in result.get("mean_steps_per_chain", [])))
        for label, v in result["params"].items():
            param_rows.append({"config": config, "draws": draws, "param": label, **v})
        print(f"    [glmm_bayes {result.get('gb_sha1')}] {result['seconds']:.1f} s (build {result['build_s']:.1f} s); min bulk ESS "
              f"{stats['min_ess_bulk']:.0f} ({stats['min_ess_bulk_param']}), min tail ESS "
              f"{stats['min_ess_tail']:.0f}; max R-hat {stats['max_rhat']:.3f}; divergences "
              f"{result['divergences']}; leapfrog steps/draw per chain {row['mean_steps_per_chain']} (max depth "
              f"{100 * result['frac_max_depth']:.0f}%); process {result['process_s']:.1f} s", flush=True)
        if target_reached(stats):
            row["status"] = "ok"
            return row
        if args.quick or draws * 2 > args.max_draws:
            row["status"] = "quick" if args.quick else f"ESS<{ESS_TARGET} at max draws"
            return row
        next_draws = draws * 2
        estimate = result["seconds"] * (next_draws + max(MIN_TUNE, next_draws // 2)) / (draws + tune)
        if row["seconds_all_attempts"] + estimate > args.config_budget:
            row["status"] = (f"ESS<{ESS_TARGET}; stopped: draws={next_draws} would take ~{estimate:.0f} s, over "
                             f"the {args.config_budget} s budget")
            print(f"    {row['status']}", flush=True)
            return row
        draws = next_draws


def run_model(model_key: str, configs: list[str], args) -> "pd.DataFrame":
    """All configurations on one model; writes results/backends_<name>.csv (+ _params.csv) and returns the table."""
    import pandas as pd

    spec = MODELS[model_key]
    suffix = "_quick" if args.quick else ""
    out = Path(args.out) if args.out else RESULTS / f"backends_{spec['name']}{suffix}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out.parent / "logs" / spec["name"]
    log_dir.mkdir(parents=True, exist_ok=True)
    print(f"\n=== model ({model_key}) {spec['name']}: {spec['formula']} ({spec['family']}); {spec['what']}", flush=True)
    rows, param_rows, old_rows, old_params = [], [], [], []
    params_path = out.with_name(out.stem + "_params.csv")
    if args.update and out.exists():
        old_rows = [r for r in pd.read_csv(out).to_dict("records") if r["config"] not in configs]
        if params_path.exists():
            old_params = [r for r in pd.read_csv(params_path).to_dict("records") if r["config"] not in configs]

    def make_table():
        order = {c: i for i, c in enumerate(CONFIGS)}
        all_rows = sorted(old_rows + rows, key=lambda r: order.get(r["config"], len(order)))
        table = pd.DataFrame(all_rows).reindex(columns=COLUMNS)
        table["ess_per_s"] = table["min_ess_bulk"] / table["seconds"]
        ref = table.loc[(table["config"] == REFERENCE) & table["seconds"].notna(), "seconds"]
        table["ratio_vs_glmm_bayes_default"] = table["seconds"] / ref.iloc[0] if len(ref) else float("nan")
        table.to_csv(out, index=False, float_format="%.4g")  # rewritten after every configuration
        if param_rows or old_params:
            pd.DataFrame(old_params + param_rows).to_csv(params_path, index=False, float_format="%.4g")
        return table

    table = make_table()
    for config in configs:
        try:
            rows.append(run_config(model_key, config, args, log_dir, param_rows))
        except Exception as exc:  # noqa: BLE001 - the driver itself must not crash
            rows.append({"config": config, "description": CONFIGS[config], "status": "failed",
                         "error": f"driver: {type(exc).__name__}: {exc}"})
        table = make_table()
    shown = table[COLUMNS[:9] + ["divergences", "mean_steps", "status"]].copy()
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3g}".format):
        print("\n" + shown.to_string(index=False))
    for _, r in table[table["status"] == "failed"].iterrows():
        print(f"FAILED {r['config']}: {r['error']}")
    print(f"wrote {out}", flush=True)
    return table


def summary_table(quick: bool = False):
    """One row per (model, config) from the per-model CSVs, with the issue's ratios; plus a plot.

    ``speedup_vs_bambi_default`` = seconds of bambi_pymc / seconds of the config; ``speedup_vs_bambi_fastest``
    against the fastest bambi row of that model; ``ratio_vs_numpyro_hand`` = seconds / seconds of numpyro_hand.
    Written to results/backends_summary.csv and results/backends.png.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker  # noqa: F401 - used as matplotlib.ticker
    import pandas as pd

    suffix = "_quick" if quick else ""
    frames = []
    for key, spec in MODELS.items():
        path = RESULTS / f"backends_{spec['name']}{suffix}.csv"
        if path.exists():
            t = pd.read_csv(path)
            t.insert(0, "model", f"({key}) {spec['name']}")
            ok = t["seconds"].where(target_reached(t))  # only rows that reached the target
            secs = dict(zip(t["config"], ok))
            bambi = [secs.get(c) for c in ("bambi_pymc", "bambi_nutpie", "bambi_numpyro")]
            bambi = [v for v in bambi if v == v and v is not None]
            t["speedup_vs_bambi_default"] = secs.get("bambi_pymc", float("nan")) / ok
            t["speedup_vs_bambi_fastest"] = (min(bambi) if bambi else float("nan")) / ok
            t["ratio_vs_numpyro_hand"] = ok / secs.get("numpyro_hand", float("nan"))
            frames.append(t)
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    cols = ["model", "config", "draws", "seconds", "min_ess_bulk", "min_ess_tail", "ess_per_s",
            "speedup_vs_bambi_default", "speedup_vs_bambi_fastest", "ratio_vs_numpyro_hand", "mean_steps",
            "divergences", "status"]
    table = table.reindex(columns=cols)
    table.to_csv(RESULTS / f"backends_summary{suffix}.csv", index=False, float_format="%.4g")
    fig, axes = plt.subplots(1, len(frames), figsize=(4.5 * len(frames), 3.8), squeeze=False)
    for ax, (model, t) in zip(axes[0], table.groupby("model", sort=False)):
        reached = target_reached(t)
        ax.barh(t["config"], t["seconds"], color=["tab:blue" if r else "lightgray" for r in reached])
        ax.set_xscale("log")
        ax.set_xlim(left=5)  # bars on a log axis start at a common 5 s, so their lengths compare
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.invert_yaxis()
        ax.set_title(model)
        ax.set_xlabel(f"seconds to bulk and tail ESS >= {ESS_TARGET} (grey: not reached)")
    fig.tight_layout()
    fig.savefig(RESULTS / f"backends{suffix}.png", dpi=110)
    return table


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="a,b,c", help="comma-separated models: a (hospital), b (InstEval), "
                                                    "c (grouseticks)")
    p.add_argument("--quick", action="store_true", help="draws = tune = 200, no doubling (smoke test)")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    p.add_argument("--cold-cache", action="store_true",
                   help="give every attempt an empty PyTensor compile cache (C and numba); default: the "
                        "user's shared on-disk cache")
    p.add_argument("--start-draws", type=int, default=None, help=f"first attempt's draws (default {START_DRAWS})")
    p.add_argument("--max-draws", type=int, default=MAX_DRAWS)
    p.add_argument("--timeout", type=int, default=3600, help="seconds per attempt")
    p.add_argument("--config-budget", type=int, default=1800,
                   help="stop doubling a configuration when its attempts so far plus the next one's estimated "
                        "time (scaled from the last) would exceed this many seconds")
    p.add_argument("--chain-method", default="sequential", help="numpyro_hand chain_method")
    p.add_argument("--out", default=None, help="CSV path (one model only; default "
                                               "benchmarks/results/backends_<model>[_quick].csv)")
    p.add_argument("--update", action="store_true",
                   help="keep the other configurations' rows of an existing CSV (from an earlier run; see "
                        "run_started) and replace only those run now")
    p.add_argument("--summary-only", action="store_true", help="only rebuild backends_summary.csv and the plot")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--draws", type=int, help=argparse.SUPPRESS)
    p.add_argument("--tune", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    models = [m.strip() for m in args.model.split(",") if m.strip()]
    if args.worker:
        worker(models[0], args.worker, args.draws, args.tune, Path(args.result_file), args.chain_method)
        return 0
    if args.summary_only:
        print(summary_table(args.quick))
        return 0

    import pandas as pd

    bad = [m for m in models if m not in MODELS]
    if bad:
        p.error(f"unknown model(s) {bad}; choose from {', '.join(MODELS)}")
    if args.out and len(models) > 1:
        p.error("--out needs a single --model")
    chosen = [c.strip() for c in args.only.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose from {', '.join(CONFIGS)}")
    args.start_draws = args.start_draws or (200 if args.quick else START_DRAWS)
    print(f"chains={CHAINS}, seed={SEED}; target min bulk and tail ESS {ESS_TARGET}; {'QUICK ' if args.quick else ''}"
          f"{'cold' if args.cold_cache else 'warm (shared on-disk)'} PyTensor compile cache; "
          f"{os.cpu_count()} CPUs; glmm_bayes source sha1 {_package_hash()}", flush=True)
    t_start = time.perf_counter()
    for key in models:
        configs = chosen or [c for c in CONFIGS if key == "a" or not c.endswith(("_centred", "_at_means", "_plain"))]
        run_model(key, configs, args)
    table = summary_table(args.quick)
    if table is not None:
        with pd.option_context("display.width", 250, "display.max_columns", 30,
                               "display.float_format", "{:.3g}".format):
            print("\n" + table.to_string(index=False))
    print("\nNote: bambi's (1 + IL6 | DID) in (a) gives UNcorrelated random intercept and slope (bambi issue #702); "
          "bambi uses its own default priors. speedup = seconds of the peer / seconds of the row (rows that "
          f"reached bulk and tail ESS >= {ESS_TARGET} only).")
    print(f"total benchmark wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
