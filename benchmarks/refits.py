"""Refits cost sampling only: 10 k-fold refits against 1 compile + 10 samplings, and against 10 fresh fits.

Model: the hospital remission model with a random intercept, ``remission ~ IL6 + CRP + CancerStage +
LengthofStay + Experience + (1 | DID)`` on ``glmm_bayes.datasets.hospital(seed=1)`` (8,525 rows), 10 folds
of the rows, 2 chains × (300 tuning + 300 draws) per refit on 2 cores (as `refit` runs them outside a parallel
worker), nutpie, one process.

Timed: (1) one compile of the model; (2) one sampling of the full data with that compiled model; (3) the 10
refits through ``GLMM.refit`` (the compiled model with each fold's data swapped in: ``with_data``);
(4) for contrast, 2 fits from scratch on fresh ``GLMM`` objects (build + compile + sample each), scaled to 10.
Prints the ratio (3) / ((1) + 10 × (2)); ≤ 1 means the refits cost no more than one compile plus ten
samplings. Writes ``results/refits.csv``.

    .venv/bin/python benchmarks/refits.py
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import glmm_bayes as gb
from glmm_bayes import inference

HERE = Path(__file__).resolve().parent
FORMULA = "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 | DID)"
SAMPLER = {"draws": 300, "tune": 300, "chains": 2}
FOLDS = 10


def main() -> None:
    import nutpie

    warnings.simplefilter("ignore")
    df = gb.datasets.hospital(seed=1)
    model = gb.GLMM(FORMULA, df, family="bernoulli")
    t0 = time.perf_counter()
    model._compiled = inference.compile_nutpie(model.sampling_model)
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nutpie.sample(model._compiled, seed=1, progress_bar=False, cores=SAMPLER["chains"], **SAMPLER)  # as refit
    sample_s = time.perf_counter() - t0
    folds = np.random.default_rng(0).permutation(len(df)) % FOLDS
    t0 = time.perf_counter()
    for f in range(FOLDS):
        model.refit(np.flatnonzero(folds != f), seed=f, **SAMPLER)
    refits_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for f in range(2):
        fresh = gb.GLMM(FORMULA, df.iloc[np.flatnonzero(folds != f)], family="bernoulli")
        fresh.fit(seed=f, progressbar=False, warn=False, **SAMPLER)
    fresh_s = (time.perf_counter() - t0) / 2 * FOLDS
    budget = compile_s + FOLDS * sample_s
    table = pd.DataFrame([{"compile_s": round(compile_s, 1), "one_sampling_s": round(sample_s, 1),
                           "ten_refits_s": round(refits_s, 1), "one_compile_plus_ten_samplings_s": round(budget, 1),
                           "ratio_refits_vs_budget": round(refits_s / budget, 2),
                           "ten_fresh_fits_s (2 timed, x5)": round(fresh_s, 1),
                           "ratio_fresh_vs_refits": round(fresh_s / refits_s, 2)}])
    (HERE / "results").mkdir(exist_ok=True)
    table.to_csv(HERE / "results" / "refits.csv", index=False)
    print(table.T.to_string(header=False))


if __name__ == "__main__":
    main()
