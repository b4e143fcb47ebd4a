"""Benchmark: wall time to >= 400 bulk ESS on every population-level parameter, compile included.

Model (the built-in hospital study, ``glmm_bayes.datasets.hospital(seed=1)``: 8,525 patients, 407 doctors)::

    remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)    (bernoulli, logit)

Configurations (all 4 chains, seed 1):

    gb_nutpie       glmm_bayes, backend="nutpie"   (the default; the reference for the ratio column)
    gb_numpyro      glmm_bayes, backend="numpyro"
    gb_pymc         glmm_bayes, backend="pymc"
    bambi_pymc      bambi default sampler (PyMC NUTS)     } bambi's (1 + IL6 | DID) is UNcorrelated:
    bambi_nutpie    bambi inference_method="nutpie"       } no cor parameter, and its own default priors
    bambi_numpyro   bambi inference_method="numpyro"      }
    numpyro_hand    hand-written NumPyro model of the same correlated model and priors
                    (non-centred, LKJCholesky), NUTS, chain_method="sequential"
    gb_nutpie_centred  DIAGNOSTIC extra: gb_nutpie on data with the numeric predictors mean-centred
                    (bambi centres internally; glmm_bayes does not)

Method: start at draws = tune = 500 per chain; while min bulk ESS < 400 double draws (tune =
max(500, draws / 2)) and rerun from scratch, up to draws = 4000. Each attempt runs in a fresh
Python subprocess, so model build + compilation are always inside the timed region (library
imports and data simulation are not). ``seconds`` is the wall time of the successful (last)
attempt; ``seconds_all_attempts`` adds up all attempts. A configuration stops doubling early when its
attempts so far plus the next attempt's estimated time would exceed ``--config-budget`` (default 1800 s).

Usage (from the repository root)::

    .venv/bin/python benchmarks/backends.py                 # full run -> benchmarks/results/backends.csv
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

FORMULA = "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)"
DATA_SEED = 1
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
        if any(d.endswith("__factor_dim") for d in extra) or name.endswith("_offset"):
            continue  # group-level effects, not population-level
        if not extra:
            out[name] = da.values
        else:
            stacked = da.stack(_p=extra).transpose("chain", "draw", "_p")
            labels = [str(v) if not isinstance(v, tuple) else ",".join(map(str, v)) for v in stacked["_p"].values]
            for i, lab in enumerate(labels):
                out[f"{name}[{lab}]"] = stacked.values[..., i]
    return out


def run_gb(data, backend, draws, tune):
    import glmm_bayes as gb

    t0 = time.perf_counter()
    model = gb.GLMM(FORMULA, data, family="bernoulli")
    model.pymc_model  # noqa: B018 - build now, so build_s is separate
    t_build = time.perf_counter() - t0
    fit = model.fit(draws=draws, tune=tune, chains=CHAINS, seed=SEED, backend=backend,
                    progressbar=False, warn=False)
    seconds = time.perf_counter() - t0
    table = fit.summary()
    params = {k: {"ess_bulk": float(r.ess_bulk), "ess_tail": float(r.ess_tail), "r_hat": float(r.r_hat)}
              for k, r in table.iterrows()}
    return seconds, t_build, params, _sampler_stats(fit.idata)


def run_bambi(data, method, draws, tune):
    import bambi as bmb

    t0 = time.perf_counter()
    model = bmb.Model(FORMULA, data, family="bernoulli")
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


def gb_priors(data) -> dict:
    """The default priors glmm_bayes uses for this model (computed outside the timed region)."""
    import glmm_bayes as gb

    ps = gb.GLMM(FORMULA, data, family="bernoulli").prior_set
    return {"fixed": {c: (p.dist, list(p.args)) for c, p in ps.fixed.items()},
            "sd": (ps.sd["DID"].dist, list(ps.sd["DID"].args)), "cor": ps.cor["DID"].args[0]}


def run_numpyro_hand(data, draws, tune, priors, chain_method="sequential"):
    import jax
    import jax.numpy as jnp
    import numpy as np
    import numpyro
    import numpyro.distributions as dist
    from numpyro.infer import MCMC, NUTS

    jax.config.update("jax_enable_x64", True)  # same precision as the PyMC-based samplers
    t0 = time.perf_counter()
    # design matrix by hand, same columns / reference level as glmm_bayes
    stage = data["CancerStage"].to_numpy()
    cols = {"Intercept": np.ones(len(data)), "IL6": data["IL6"].to_numpy(float),
            "CRP": data["CRP"].to_numpy(float),
            "CancerStage[II]": (stage == "II").astype(float), "CancerStage[III]": (stage == "III").astype(float),
            "CancerStage[IV]": (stage == "IV").astype(float),
            "LengthofStay": data["LengthofStay"].to_numpy(float), "Experience": data["Experience"].to_numpy(float)}
    names = list(priors["fixed"])
    assert set(names) == set(cols), (names, list(cols))
    X = jnp.asarray(np.column_stack([cols[c] for c in names]))
    doctors, idx = np.unique(data["DID"].to_numpy(), return_inverse=True)
    idx = jnp.asarray(idx)
    il6 = jnp.asarray(cols["IL6"])
    y = jnp.asarray(data["remission"].to_numpy(np.int32))
    assert all(p[0] == "normal" for p in priors["fixed"].values())
    b_mu = jnp.asarray([priors["fixed"][c][1][0] for c in names])
    b_sigma = jnp.asarray([priors["fixed"][c][1][1] for c in names])
    sd_prior = _numpyro_prior(priors["sd"], dist)
    n_groups = len(doctors)

    def model(X, idx, il6, y=None):
        b = numpyro.sample("b", dist.Normal(b_mu, b_sigma))
        sd = numpyro.sample("sd", sd_prior.expand([2]).to_event(1))
        L = numpyro.sample("L", dist.LKJCholesky(2, concentration=priors["cor"]))
        z = numpyro.sample("z", dist.Normal(0.0, 1.0).expand([n_groups, 2]).to_event(2))
        u = (z @ L.T) * sd  # rows ~ MVN(0, diag(sd) L L' diag(sd))
        numpyro.deterministic("cor", L[1, 0])  # (L L')[0, 1] = L[1, 0] * L[0, 0] = L[1, 0]
        eta = X @ b + u[idx, 0] + u[idx, 1] * il6
        numpyro.sample("y", dist.BernoulliLogits(eta), obs=y)

    mcmc = MCMC(NUTS(model, target_accept_prob=0.8), num_warmup=tune, num_samples=draws, num_chains=CHAINS,
                chain_method=chain_method, progress_bar=False)
    t_build = time.perf_counter() - t0
    mcmc.run(jax.random.PRNGKey(SEED), X, idx, il6, y=y, extra_fields=("diverging", "num_steps"))
    samples = mcmc.get_samples(group_by_chain=True)
    jax.block_until_ready(samples)
    seconds = time.perf_counter() - t0
    draws_by_label = {f"b_{c}": np.asarray(samples["b"][..., i]) for i, c in enumerate(names)}
    draws_by_label["sd_DID__Intercept"] = np.asarray(samples["sd"][..., 0])
    draws_by_label["sd_DID__IL6"] = np.asarray(samples["sd"][..., 1])
    draws_by_label["cor_DID__Intercept__IL6"] = np.asarray(samples["cor"])
    extra = mcmc.get_extra_fields(group_by_chain=True)
    steps = np.asarray(extra["num_steps"], dtype=float)
    stats = {"divergences": int(np.asarray(extra["diverging"]).sum()), "mean_steps": float(steps.mean()),
             "frac_max_depth": float((steps >= MAX_TREE_STEPS).mean()),
             "mean_steps_per_chain": [float(v) for v in steps.mean(axis=1)]}
    return seconds, t_build, _ess_table(draws_by_label), stats


def worker(config: str, draws: int, tune: int, out: Path, chain_method: str) -> None:
    """One attempt in this (fresh) process; writes a JSON result to ``out``."""
    import warnings

    warnings.filterwarnings("ignore")
    result = {"config": config, "draws": draws, "tune": tune, "gb_sha1": _package_hash()}
    try:
        # library imports and data simulation are not timed
        import arviz  # noqa: F401
        import numpy  # noqa: F401
        import pymc  # noqa: F401

        import glmm_bayes as gb

        data = gb.datasets.hospital(seed=DATA_SEED)
        if config.startswith("gb_"):
            backend = config[3:]
            if backend.endswith("_centred"):
                backend = backend[: -len("_centred")]
                data = data.copy()
                for col in ("IL6", "CRP", "LengthofStay", "Experience"):
                    data[col] = data[col] - data[col].mean()
            if backend == "nutpie":
                import nutpie  # noqa: F401
            if backend == "numpyro":
                import numpyro  # noqa: F401
                import pymc.sampling.jax  # noqa: F401
            seconds, t_build, params, stats = run_gb(data, backend, draws, tune)
        elif config.startswith("bambi_"):
            import bambi  # noqa: F401

            method = config[6:]
            if method == "nutpie":
                import nutpie  # noqa: F401
            if method == "numpyro":
                import numpyro  # noqa: F401
                import pymc.sampling.jax  # noqa: F401
            seconds, t_build, params, stats = run_bambi(data, method, draws, tune)
        elif config == "numpyro_hand":
            import numpyro  # noqa: F401

            priors = gb_priors(data)
            seconds, t_build, params, stats = run_numpyro_hand(data, draws, tune, priors, chain_method)
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


def attempt(config: str, draws: int, tune: int, args, log_dir: Path) -> dict:
    """Run one attempt in a fresh subprocess; return its result dict."""
    env = dict(os.environ)
    tmp = Path(tempfile.mkdtemp(prefix=f"bench_{config}_"))
    if args.cold_cache:
        env["PYTENSOR_FLAGS"] = ",".join(filter(None, [env.get("PYTENSOR_FLAGS", ""),
                                                       f"base_compiledir={tmp / 'pytensor'}"]))
    out = tmp / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", config, "--draws", str(draws),
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


def run_config(config: str, args, log_dir: Path, param_rows: list) -> dict:
    draws = args.start_draws
    row = {"config": config, "description": CONFIGS[config], "attempts": 0, "seconds_all_attempts": 0.0,
           "run_started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    while True:
        tune = draws if args.quick else max(MIN_TUNE, draws // 2)
        print(f"[{time.strftime('%H:%M:%S')}] {config}: draws={draws} tune={tune} ...", flush=True)
        result = attempt(config, draws, tune, args, log_dir)
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
        if stats["min_ess_bulk"] >= ESS_TARGET:
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


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="draws = tune = 200, no doubling (smoke test)")
    p.add_argument("--only", default="", help=f"comma-separated subset of: {', '.join(CONFIGS)}")
    p.add_argument("--cold-cache", action="store_true",
                   help="give every attempt an empty PyTensor compile cache (C and numba); default: the "
                        "user's shared on-disk cache")
    p.add_argument("--max-draws", type=int, default=MAX_DRAWS)
    p.add_argument("--timeout", type=int, default=3600, help="seconds per attempt")
    p.add_argument("--config-budget", type=int, default=1800,
                   help="stop doubling a configuration when its attempts so far plus the next one's estimated "
                        "time (scaled from the last) would exceed this many seconds")
    p.add_argument("--chain-method", default="sequential", help="numpyro_hand chain_method")
    p.add_argument("--out", default=None, help="CSV path (default benchmarks/results/backends.csv, "
                                               "or backends_quick.csv with --quick)")
    p.add_argument("--update", action="store_true",
                   help="keep the other configurations' rows of an existing CSV (from an earlier run; see "
                        "run_started) and replace only those run now")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--draws", type=int, help=argparse.SUPPRESS)
    p.add_argument("--tune", type=int, help=argparse.SUPPRESS)
    p.add_argument("--result-file", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.worker:
        worker(args.worker, args.draws, args.tune, Path(args.result_file), args.chain_method)
        return 0

    import pandas as pd

    configs = [c.strip() for c in args.only.split(",") if c.strip()] or list(CONFIGS)
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        p.error(f"unknown config(s) {unknown}; choose from {', '.join(CONFIGS)}")
    args.start_draws = 200 if args.quick else START_DRAWS
    out = Path(args.out or RESULTS / ("backends_quick.csv" if args.quick else "backends.csv"))
    out.parent.mkdir(parents=True, exist_ok=True)
    log_dir = out.parent / "logs"
    log_dir.mkdir(exist_ok=True)

    print(f"model: {FORMULA} (bernoulli); data hospital(seed={DATA_SEED}); chains={CHAINS}, seed={SEED}; "
          f"target min bulk ESS {ESS_TARGET}; {'QUICK ' if args.quick else ''}"
          f"{'cold' if args.cold_cache else 'warm (shared on-disk)'} PyTensor compile cache; "
          f"{os.cpu_count()} CPUs", flush=True)
    print(f"glmm_bayes source sha1 {_package_hash()}", flush=True)
    t_start = time.perf_counter()
    rows, param_rows = [], []
    old_rows, old_params = [], []
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

    for config in configs:
        try:
            rows.append(run_config(config, args, log_dir, param_rows))
        except Exception as exc:  # noqa: BLE001 - the driver itself must not crash
            rows.append({"config": config, "description": CONFIGS[config], "status": "failed",
                         "error": f"driver: {type(exc).__name__}: {exc}"})
        table = make_table()

    shown = table[COLUMNS[:9] + ["divergences", "mean_steps", "gb_sha1", "run_started", "status"]].copy()
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.float_format", "{:.3g}".format):
        print("\n" + shown.to_string(index=False))
    failed = table[table["status"] == "failed"]
    for _, r in failed.iterrows():
        print(f"FAILED {r['config']}: {r['error']}")
    print("\nNote: bambi's (1 + IL6 | DID) gives UNcorrelated random intercept and slope (no cor_ parameter; "
          "bambi issue #702) and uses bambi's own default priors and centred predictors, so its rows are a "
          "related, simpler model. ratio = seconds / seconds of gb_nutpie (same run).")
    print(f"wrote {out}; total benchmark wall time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
