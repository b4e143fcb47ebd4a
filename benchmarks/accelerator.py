"""JAX on an accelerator: glmm_bayes' ``backend="numpyro"`` on JAX's default device against the CPU.

Each configuration runs in a fresh subprocess (its compile is inside the timed region):

    numpyro_cpu      backend="numpyro" with JAX_PLATFORMS=cpu (chains one after another)
    numpyro_default  backend="numpyro" on JAX's default platform: a GPU where a CUDA build of jaxlib is
                     installed (``make install-gpu``) and a GPU is visible; chains batched on it
                     (``inference.numpyro_chain_method``)
    nutpie_cpu       glmm_bayes' default (nutpie, numba, CPU), the reference

Cases (``--case``):

    rows      y ~ x + f + (1 | g), bernoulli, ``--rows`` rows (default 10⁶) in ``--groups`` groups (1,000);
              a continuous x, so no rows merge into binomial counts (``scale.py``'s simulator)
    insteval  model (b) of backends.py: y ~ service + (1 | s) + (1 | d), 73,421 rows, crossed

Reported per configuration: seconds (build, compile, warm-up, sampling, diagnostics), post-warm-up leapfrog
steps of all chains, ``ms_per_step`` (those seconds over those steps), min bulk and tail ESS of the population-level parameters, ESS per second;
and the speed-ups of ``numpyro_default`` over ``numpyro_cpu`` and ``nutpie_cpu`` per step and in ESS per
second. Results go to ``results/accelerator_<case>.csv``. On a machine without an accelerator the default
platform is the CPU and the first two rows measure the same thing::

    .venv/bin/python benchmarks/accelerator.py --case rows                      # 10⁶ rows, 4 × (500 + 500)
    .venv/bin/python benchmarks/accelerator.py --case rows --rows 20000 --draws 100 --tune 100   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))

CONFIGS = {"numpyro_cpu": ("numpyro", {"JAX_PLATFORMS": "cpu"}), "numpyro_default": ("numpyro", {}),
           "nutpie_cpu": ("nutpie", {})}


def load_case(args: dict):
    """(formula, family, data) of a case."""
    if args["case"] == "rows":
        import scale

        return "y ~ x + f + (1 | g)", "bernoulli", scale.simulate(args["rows"], args["groups"], continuous=True)
    import backends

    spec = backends.MODELS["b"]
    return spec["formula"], spec["family"], spec["load"]()


def worker(args: dict) -> dict:
    """One timed fit in this process."""
    import warnings

    import jax
    import numpy as np

    import glmm_bayes as gb

    formula, family, data = load_case(args)
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    fit = gb.GLMM(formula, data, family=family).fit(draws=args["draws"], tune=args["tune"], chains=args["chains"],
                                                    seed=1, backend=args["backend"], progressbar=False)
    seconds = time.perf_counter() - start
    table = fit.summary()
    steps = float(np.asarray(fit.idata["sample_stats"]["n_steps"]).sum())
    ess = float(min(table["ess_bulk"].min(), table["ess_tail"].min()))
    return {"device": str(jax.devices()[0]) if args["backend"] == "numpyro" else "cpu (numba)",
            "seconds": round(seconds, 2), "leapfrog_steps": steps,
            "ms_per_step": round(seconds / steps * 1e3, 4), "min_ess": round(ess, 1),
            "ess_per_s": round(ess / seconds, 2)}


def run(config: str, args: dict, timeout: int) -> dict:
    backend, env = CONFIGS[config]
    job = {**args, "backend": backend}
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(job)], capture_output=True,
                             text=True, timeout=timeout, env={**os.environ, **env})
    except subprocess.TimeoutExpired:
        return {"config": config, "error": f"did not finish in {timeout} s"}
    if out.returncode != 0:
        return {"config": config, "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return {"config": config, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--case", choices=("rows", "insteval"), default="rows")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--groups", type=int, default=1_000)
    p.add_argument("--draws", type=int, default=500)
    p.add_argument("--tune", type=int, default=500)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--only", default=",".join(CONFIGS), help=f"comma-separated subset of {', '.join(CONFIGS)}")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per configuration")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.worker:
        print(json.dumps(worker(json.loads(a.worker))))
        return 0

    import pandas as pd

    args = {"case": a.case, "rows": a.rows, "groups": a.groups, "draws": a.draws, "tune": a.tune, "chains": a.chains}
    rows = []
    for config in [c.strip() for c in a.only.split(",") if c.strip()]:
        print(f"[{time.strftime('%H:%M:%S')}] {config} ...", flush=True)
        rows.append(run(config, args, a.timeout))
        print(f"    {rows[-1]}", flush=True)
    table = pd.DataFrame(rows).assign(**args)
    ok = table.set_index("config")
    if "numpyro_default" in ok.index and "ms_per_step" in ok:
        for peer in ("numpyro_cpu", "nutpie_cpu"):
            if peer in ok.index:
                print(f"numpyro_default vs {peer}: {ok.at[peer, 'ms_per_step'] / ok.at['numpyro_default', 'ms_per_step']:.2f}x "
                      f"per leapfrog step, {ok.at['numpyro_default', 'ess_per_s'] / ok.at[peer, 'ess_per_s']:.2f}x "
                      f"in ESS per second")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"accelerator_{a.case}.csv"
    table.to_csv(out, index=False)
    print(table.to_string(index=False))
    print(f"-> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
