"""Which non-centred form samples a block with slopes better: effects at x = 0 or at the slope means?

For each case (real data sets and simulated ones spanning weakly to strongly informed levels, few to many
levels), fits the same model with ``parameterization="noncentred"``, ``"noncentred_at_means"`` (the same
posterior in other coordinates, :func:`glmm_bayes.builder.effects_from_z`) and ``"auto"`` (what the default
chooses: column ``forms``) and records the minimum bulk
ESS over the population-level parameters (``fit.summary()``) per 1,000 leapfrog steps: the cost of a
gradient is the same in both forms, so this ratio is the speed-up, and it does not depend on the load
of the machine. Also records, per block, the median level information
(:func:`glmm_bayes.builder.level_information`) and the largest slope mean in units of the slope column's sd.

    .venv/bin/python benchmarks/parameterization.py             # every case, seeds 1 and 2
    .venv/bin/python benchmarks/parameterization.py --cases sleepstudy,hospital --seeds 1
    .venv/bin/python benchmarks/parameterization.py --forms noncentred,auto \
        --cases grouseticks,nested_1,nested_6,nested_200 --out benchmarks/results/parameterization_nested.csv
    .venv/bin/python benchmarks/parameterization.py --forms noncentred_at_means,centred_intercept \
        --cases hospital,hospital_30,bern_weak,bern_tiny,bern_level,bern_level_weak,pois_weak,pois_level,pois_mid \
        --out benchmarks/results/parameterization_intercept.csv   # intercepts centred, slopes not

Writes ``results/parameterization.csv`` (one row per case, form and seed) and prints, per case, the ratio
of each form's ESS per step to the plain non-centred form's.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import glmm_bayes as gb
from glmm_bayes.builder import level_information

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"
SAMPLER = {"draws": 1000, "tune": 500, "chains": 4}
HOSPITAL = "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)"


def simulated(family: str, groups: int, rows: int, sd0: float, sd1: float, x_mean: float, sigma: float = 1.0,
              intercept: float = 0.0, x_group_sd: float = 0.0, w_effect: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """``y ~ x + (1 + x | g)`` with x = x_mean + (a group shift of sd ``x_group_sd``) + N(0, 1) noise; with
    ``w_effect`` also a group-level predictor ``w`` ~ N(1, 1) per group (``y ~ x + w + (1 + x | g)``)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(groups), rows)
    x = x_mean + rng.normal(0, x_group_sd, groups)[g] + rng.normal(0, 1, g.size)
    u0, u1 = rng.normal(0, sd0, groups), rng.normal(0, sd1, groups)
    w = rng.normal(1.0, 1.0, groups)[g]
    eta = intercept + 0.5 * x + u0[g] + u1[g] * x + w_effect * w
    if family == "gaussian":
        y = eta + rng.normal(0, sigma, g.size)
    elif family == "bernoulli":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
    else:
        y = rng.poisson(np.exp(eta))
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": g.astype(str)})


SIMPLE = "y ~ x + (1 + x | g)"


def nested(rate: float, locations: int = 40, broods: int = 2, chicks: int = 4, seed: int = 0) -> pd.DataFrame:
    """Poisson counts of chicks in broods in locations (grouseticks' shape): location sd 0.5, brood sd 0.7,
    an observation-level sd 0.3, a location-level predictor h; ``rate``: the typical count."""
    rng = np.random.default_rng(seed)
    loc = np.repeat(np.arange(locations), broods * chicks)
    brood = np.repeat(np.arange(locations * broods), chicks)
    h = rng.normal(0, 1, locations)
    eta = (np.log(rate) + 0.3 * h[loc] + rng.normal(0, 0.5, locations)[loc]
           + rng.normal(0, 0.7, locations * broods)[brood] + rng.normal(0, 0.3, loc.size))
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "h": h[loc], "loc": loc.astype(str),
                         "brood": brood.astype(str), "chick": np.arange(loc.size).astype(str)})


NESTED = "y ~ h + (1 | brood) + (1 | loc) + (1 | chick)"
GROUSE = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)"
LEVEL = "y ~ x + w + (1 + x | g)"
INTERCEPT = "y ~ x + w + (1 | g)"
CASES = {
    "hospital": lambda: (HOSPITAL, gb.datasets.hospital(seed=1), "bernoulli"),
    "hospital_100": lambda: (HOSPITAL, gb.datasets.hospital(seed=1, n_doctors=100), "bernoulli"),
    "hospital_30": lambda: (HOSPITAL, gb.datasets.hospital(seed=1, n_doctors=30), "bernoulli"),
    "sleepstudy": lambda: ("Reaction ~ Days + (1 + Days | Subject)", pd.read_csv(SHARED / "sleepstudy.csv"),
                           "gaussian"),
    "gauss_weak": lambda: (SIMPLE, simulated("gaussian", 200, 6, 0.3, 0.15, 3.0, sigma=1.0), "gaussian"),
    "gauss_mid4": lambda: (SIMPLE, simulated("gaussian", 100, 10, 0.447, 0.149, 3.0, sigma=1.0), "gaussian"),
    "gauss_mid8": lambda: (SIMPLE, simulated("gaussian", 100, 10, 0.632, 0.211, 3.0, sigma=1.0), "gaussian"),
    "gauss_mid11": lambda: (SIMPLE, simulated("gaussian", 100, 10, 0.742, 0.247, 3.0, sigma=1.0), "gaussian"),
    "gauss_mid15": lambda: (SIMPLE, simulated("gaussian", 100, 10, 0.866, 0.289, 3.0, sigma=1.0), "gaussian"),
    "gauss_mid25": lambda: (SIMPLE, simulated("gaussian", 100, 10, 1.118, 0.373, 3.0, sigma=1.0), "gaussian"),
    "gauss_strong": lambda: (SIMPLE, simulated("gaussian", 40, 20, 1.0, 0.5, 3.0, sigma=0.5), "gaussian"),
    "gauss_strong_many": lambda: (SIMPLE, simulated("gaussian", 300, 10, 1.0, 0.3, 3.0, sigma=0.5), "gaussian"),
    "bern_weak": lambda: (SIMPLE, simulated("bernoulli", 300, 10, 0.5, 0.3, 3.0, intercept=-1.5), "bernoulli"),
    "bern_strong": lambda: (SIMPLE, simulated("bernoulli", 40, 200, 1.0, 0.3, 3.0, intercept=-1.5), "bernoulli"),
    "pois_mid": lambda: (SIMPLE, simulated("poisson", 150, 8, 0.4, 0.1, 2.0, intercept=-0.5), "poisson"),
    "pois_strong": lambda: (SIMPLE, simulated("poisson", 40, 30, 0.5, 0.1, 2.0, intercept=0.5), "poisson"),
    # weakly informed levels and group-level predictors (for the "centred_intercept" form)
    "bern_tiny": lambda: (SIMPLE, simulated("bernoulli", 300, 4, 0.5, 0.3, 3.0, intercept=-1.5), "bernoulli"),
    "bern_level": lambda: (LEVEL, simulated("bernoulli", 150, 15, 0.8, 0.2, 2.0, intercept=-1.5, w_effect=0.5),
                           "bernoulli"),
    "bern_level_weak": lambda: (LEVEL, simulated("bernoulli", 200, 6, 0.5, 0.2, 2.0, intercept=-1.5,
                                                 w_effect=0.5), "bernoulli"),
    "pois_weak": lambda: (SIMPLE, simulated("poisson", 200, 2, 0.4, 0.1, 2.0, intercept=-1.0), "poisson"),
    "pois_level": lambda: (LEVEL, simulated("poisson", 100, 5, 0.5, 0.1, 2.0, intercept=-1.0, w_effect=0.3),
                           "poisson"),
    # a random intercept alone, the model's only block ("auto" centres it from an intercept ratio of 3)
    "hospital_int": lambda: (HOSPITAL.replace("(1 + IL6 | DID)", "(1 | DID)"), gb.datasets.hospital(seed=1),
                             "bernoulli"),
    "bern_int_low": lambda: (INTERCEPT, simulated("bernoulli", 150, 10, 0.8, 0.0, 0.0, intercept=-1.0,
                                                  w_effect=0.5), "bernoulli"),
    "bern_int_mid": lambda: (INTERCEPT, simulated("bernoulli", 100, 15, 1.0, 0.0, 0.0, intercept=-1.0,
                                                  w_effect=0.5), "bernoulli"),
    "pois_int_mid": lambda: (INTERCEPT, simulated("poisson", 100, 6, 0.6, 0.0, 0.0, intercept=-0.5,
                                                  w_effect=0.3), "poisson"),
    "bern_int_strong": lambda: (INTERCEPT, simulated("bernoulli", 50, 40, 1.0, 0.0, 0.0, intercept=-1.0,
                                                     w_effect=0.5), "bernoulli"),
    # nested random intercepts: "auto" centres the finest informed one around the others' effects
    "grouseticks": lambda: (GROUSE, pd.read_csv(SHARED / "grouseticks.csv").astype(
        {"BROOD": str, "INDEX": str, "LOCATION": str, "YEAR": str}), "poisson"),
    "nested_1": lambda: (NESTED, nested(1.0), "poisson"),
    "nested_6": lambda: (NESTED, nested(6.0), "poisson"),
    "nested_200": lambda: (NESTED, nested(200.0), "poisson"),
}


FORMS = ("noncentred", "noncentred_at_means", "auto")


def run(case: str, form: str, seed: int) -> dict:
    formula, data, family = CASES[case]()
    model = gb.GLMM(formula, data, family=family, parameterization=form)
    t0 = time.perf_counter()
    fit = model.fit(seed=seed, progressbar=False, warn=False, log_likelihood=False, **SAMPLER)
    seconds = time.perf_counter() - t0
    table = fit.summary()
    stats = fit.idata["sample_stats"].to_dataset()
    steps = float(stats["n_steps"].sum())
    info = {}
    for b in model.design.blocks:
        info[f"info_{b.label}"] = float(np.median(level_information(model.design, b)))
        if b.slope_means is not None:
            spread = np.asarray(b.Z, dtype=float).std(axis=0)
            slopes = [i for i, c in enumerate(b.columns) if c != "Intercept"]
            info[f"offset_{b.label}"] = float(max(abs(b.slope_means[i]) / spread[i] for i in slopes))
    return {"case": case, "form": form, "seed": seed, "family": family, "rows": model.design.n,
            "levels": ";".join(str(len(b.levels)) for b in model.design.blocks), **info,
            "min_ess_bulk": float(table.ess_bulk.min()), "min_ess_param": str(table.ess_bulk.idxmin()),
            "min_ess_tail": float(table.ess_tail.min()),
            "steps_per_draw": steps / (SAMPLER["chains"] * SAMPLER["draws"]),
            "ess_per_1000_steps": 1000 * float(table.ess_bulk.min()) / steps,
            "divergences": int(stats["diverging"].sum()), "seconds": round(seconds, 1),
            "forms": ";".join("centred" if b.key in model.centred_blocks else "at_means" if b.key in model.at_means_blocks
                              else "centred_intercept" if b.key in model.centred_intercept_blocks else "plain"
                              for b in model.design.blocks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--out", default=str(HERE / "results" / "parameterization.csv"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    for case in args.cases.split(","):
        for seed in map(int, args.seeds.split(",")):
            for form in args.forms.split(","):
                rows.append(run(case, form, seed))
                print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
                pd.DataFrame(rows).to_csv(args.out, index=False)
    table = pd.DataFrame(rows)
    wide = table.pivot_table(index=["case", "seed"], columns="form", values="ess_per_1000_steps")
    for form in ("noncentred_at_means", "auto"):
        if {form, "noncentred"} <= set(wide.columns):
            wide[f"{form} / noncentred"] = wide[form] / wide["noncentred"]
    if {"centred_intercept", "noncentred_at_means"} <= set(wide.columns):
        wide["centred_intercept / at_means"] = wide["centred_intercept"] / wide["noncentred_at_means"]
    print(wide.round(2).to_string())


if __name__ == "__main__":
    main()
