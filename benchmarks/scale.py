"""Scale: wall time and peak memory against the number of rows and of groups; big Bernoulli data.

Two studies, each point in a fresh subprocess (so compile time and peak memory are its own):

* ``curve``: ``y ~ x + f + (1 | g)`` (bernoulli, a continuous x, so no two rows are alike and nothing is
  aggregated), 2 chains × (300 tuning + 300 draws) with nutpie, (a) rows 10³ … 10⁶ at 100 groups,
  (b) groups 10 … 10⁴ at 10⁵ rows. Reported: build + compile seconds, sampling seconds, total, peak RSS,
  min bulk ESS, and the fitted growth exponent (slope of log time on log size).
* ``big``: the issue's model (d): 1,000,000 Bernoulli rows, 1,000 groups, categorical covariates only,
  ``y ~ f + h + (1 | g)``, to ≥ 400 bulk ESS (2 chains, draws doubled from 500): glmm_bayes with identical
  rows merged into binomial counts (the default) against ``aggregate=False``.

    .venv/bin/python benchmarks/scale.py curve      # -> results/scale_curve.csv, results/scale_curve.png
    .venv/bin/python benchmarks/scale.py big        # -> results/scale_big.csv
    .venv/bin/python benchmarks/scale.py curve --max-rows 100000   # a shorter curve
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CHAINS = 2


def simulate(rows: int, groups: int, continuous: bool, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    f = rng.choice(list("abcd"), rows)
    h = rng.choice(list("uvw"), rows)
    u = rng.normal(0, 0.5, groups)
    eta = -0.3 + 0.4 * (f == "b") - 0.3 * (f == "c") + 0.2 * (f == "d") + 0.3 * (h == "v") + u[g]
    frame = {"f": f, "h": h, "g": g}
    if continuous:
        frame["x"] = rng.normal(size=rows)
        eta = eta + 0.5 * frame["x"]
    frame["y"] = (rng.random(rows) < 1 / (1 + np.exp(-eta))).astype(np.int8)
    return pd.DataFrame(frame)


def worker(args: dict) -> dict:
    """One fit, timed in stages; runs inside its own process."""
    import warnings

    import arviz as az
    import nutpie

    import glmm_bayes as gb
    from glmm_bayes import inference

    df = simulate(args["rows"], args["groups"], args["continuous"])
    start = time.perf_counter()
    model = gb.GLMM(args["formula"], df, family="bernoulli", aggregate=args.get("aggregate", True))
    compiled = inference.compile_nutpie(model.sampling_model)
    built = time.perf_counter()
    draws = args["draws"]
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trace = nutpie.sample(compiled, draws=draws, tune=max(args["tune"], draws // 2), chains=CHAINS,
                                  seed=1, progress_bar=False, cores=CHAINS,
                                  adaptation="diag")  # as GLMM.fit when the centred block is centred on the intercept
        post = trace["posterior"].to_dataset()
        keep = [v for v in post.data_vars if v in ("b", "b_z", "Intercept", "Intercept_c", "sd_g")]
        ess = float(min(az.ess(post[keep]).to_array().min(), az.ess(post[keep], method="tail").to_array().min()))
        if not args.get("to_ess") or ess >= 400 or draws >= 4000:
            break
        draws *= 2
    done = time.perf_counter()
    return {"rows": args["rows"], "groups": args["groups"], "sampled_rows": model.sampling_design.n,
            "centred": bool(model.centred_blocks), "ess_per_s": round(ess / (done - start), 2),
            "aggregate": args.get("aggregate", True), "draws": draws, "build_compile_s": round(built - start, 2),
            "sample_s": round(done - built, 2), "total_s": round(done - start, 2), "min_ess": round(ess, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def run_point(args: dict, timeout: int = 900) -> dict:
    try:
        out = subprocess.run([sys.executable, __file__, "--worker", json.dumps(args)], capture_output=True,
                             text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {**args, "error": f"did not finish in {timeout} s"}
    if out.returncode != 0:
        return {**args, "error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def growth(points, key: str, value: str = "total_s") -> float:
    """Slope of log(value) on log(key): time ∝ size^slope."""
    import numpy as np

    x = np.log([p[key] for p in points if "error" not in p])
    y = np.log([p[value] for p in points if "error" not in p])
    return float(np.polyfit(x, y, 1)[0]) if len(x) >= 2 else float("nan")


def curve(max_rows: int, max_groups: int) -> None:
    import matplotlib.pyplot as plt
    import pandas as pd

    base = {"formula": "y ~ x + f + (1 | g)", "continuous": True, "draws": 300, "tune": 300}
    by_rows = [run_point({**base, "rows": n, "groups": 100}) for n in (1_000, 10_000, 100_000, 1_000_000)
               if n <= max_rows]
    by_groups = [run_point({**base, "rows": 100_000, "groups": g}) for g in (10, 100, 1_000, 10_000)
                 if g <= max_groups]
    table = pd.DataFrame([{**p, "study": "rows"} for p in by_rows] + [{**p, "study": "groups"} for p in by_groups])
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "scale_curve.csv", index=False)
    print(table.to_string(index=False))
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, points, key in ((axes[0], by_rows, "rows"), (axes[1], by_groups, "groups")):
        ok = [p for p in points if "error" not in p]
        for value, label in (("total_s", "total"), ("sample_s", "sampling"), ("build_compile_s", "build + compile")):
            ax.loglog([p[key] for p in ok], [p[value] for p in ok], "o-", label=label)
        ax2 = ax.twinx()
        ax2.semilogx([p[key] for p in ok], [p["peak_rss_mb"] for p in ok], "k--", label="peak RSS (MB)")
        ax2.set_ylabel("peak RSS (MB)")
        ax.set_xlabel(key)
        ax.set_ylabel("seconds (2 chains × 300 + 300)")
        ax.set_title(f"time ∝ {key}^{growth(ok, key):.2f}; sampling ∝ {key}^{growth(ok, key, 'sample_s'):.2f}")
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(RESULTS / "scale_curve.png", dpi=80)
    for points, key in ((by_rows, "rows"), (by_groups, "groups")):
        print(f"growth in {key}: total time ∝ {key}^{growth(points, key):.2f}, sampling ∝ "
              f"{key}^{growth(points, key, 'sample_s'):.2f}, memory ∝ {key}^{growth(points, key, 'peak_rss_mb'):.2f}")


def big(aggregated_only: bool = False) -> None:
    """``aggregated_only``: rerun the aggregated fit only and keep the per-row row of the existing CSV."""
    import pandas as pd

    base = {"formula": "y ~ f + h + (1 | g)", "continuous": False, "rows": 1_000_000, "groups": 1_000,
            "draws": 500, "tune": 500, "to_ess": True}
    # the per-row fit runs a fixed 2 × (500 + 500) (the doubling to 400 ESS would not fit in the time limit):
    # compare ESS per second
    rows = [run_point({**base, "aggregate": True})]
    if aggregated_only and (RESULTS / "scale_big.csv").exists():
        rows += pd.read_csv(RESULTS / "scale_big.csv").query("aggregate == False").to_dict("records")
    else:
        rows.append(run_point({**base, "aggregate": False, "to_ess": False}))
    table = pd.DataFrame(rows)
    if "error" not in table or table["error"].isna().all():
        table["ess_per_s_ratio_aggregated_vs_per_row"] = table["ess_per_s"].iloc[0] / table["ess_per_s"]
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "scale_big.csv", index=False)
    print(table.to_string(index=False))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", nargs="?", choices=["curve", "big"])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--max-rows", type=int, default=1_000_000)
    parser.add_argument("--max-groups", type=int, default=10_000)
    parser.add_argument("--aggregated-only", action="store_true",
                        help="big: rerun only the aggregated fit (the per-row one takes 15 min); keep the CSV's per-row row")
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    if args.study == "curve":
        curve(args.max_rows, args.max_groups)
    elif args.study == "big":
        big(args.aggregated_only)
    else:
        parser.error("choose a study: curve or big")
    return 0


if __name__ == "__main__":
    sys.exit(main())
