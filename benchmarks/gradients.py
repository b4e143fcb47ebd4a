"""Gradient cost per family: glmm_bayes' direct log-densities against PyMC's own distributions.

For each family with a direct log-density (``Family.direct_logp``), the same model ``y ~ x + (1 + x | g)``
on the same simulated data (default 20,000 rows, 200 groups) is built twice: as glmm_bayes builds it, and
with the family's ``direct_logp`` emptied so the likelihood is PyMC's distribution (what the model used
before). Both are compiled with numba (as nutpie samples them) and the log density and gradient are timed at
the same point, interleaved, best of ``--repeats`` rounds of ``--calls`` calls. The two log densities must
agree (relative 1e-9) or the script stops. Output: ``results/gradients.csv`` and a table of ratios.

``--censored``: every censorable family, ``censored(t, status) ~ x + (1 + x | g)`` with 60 % events, 35 %
right- and 5 % left-censored rows, its likelihood as glmm_bayes builds it (each of log f, log S and log F on
its own rows) against the same terms selected per row by a ``switch`` (each evaluated on every row: what the
censored likelihood did before, and what ``pm.Censored`` does). Output: ``results/gradients_censored.csv``.

    .venv/bin/python benchmarks/gradients.py                 # every family with a direct log-density
    .venv/bin/python benchmarks/gradients.py --rows 5000 --families negativebinomial,gamma
    .venv/bin/python benchmarks/gradients.py --censored
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import glmm_bayes as gb
from glmm_bayes import families
from glmm_bayes.families import FAMILIES

RESULTS = Path(__file__).resolve().parent / "results"
AUX = {"negativebinomial": {"alpha": 2.0}, "zero_inflated_poisson": {"zi": 0.3},
       "zero_inflated_negativebinomial": {"alpha": 2.0, "zi": 0.3}, "hurdle_poisson": {"hu": 0.3},
       "hurdle_negativebinomial": {"alpha": 2.0, "hu": 0.3}, "gamma": {"shape": 2.0}, "weibull": {"shape": 1.5},
       "lognormal": {"sigma": 0.8}, "gaussian": {"sigma": 1.0}, "student_t": {"sigma": 1.0, "nu": 5.0}}
CENSORING = {1: 0.6, 0: 0.35, -1: 0.05}  # status → share of rows


def simulated(family: str, link: str, rows: int, groups: int, seed: int = 1) -> pd.DataFrame:
    """``y ~ x + (1 + x | g)`` data from the family itself (trials 10 for binomial families)."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, rows)
    x = rng.normal(size=rows)
    u = rng.normal(0, 0.4, (groups, 2))
    eta = (0.2 if link != "log" else 1.0) + 0.3 * x + u[g, 0] + u[g, 1] * x
    fam = FAMILIES[family]
    trials = np.full(rows, 10)
    y = fam.draw(rng, eta, link, AUX.get(family, {}), trials if fam.needs_trials else None)
    return pd.DataFrame({"y": y, "x": x, "g": g.astype(str), "n": trials})


def logp_dlogp(model):
    """The model's log density and gradient as one numba-compiled function of a flat vector, and a point."""
    f = model.logp_dlogp_function(mode="NUMBA", ravel_inputs=True)
    f.set_extra_values({})
    point = np.concatenate([np.ravel(v) for v in model.initial_point().values()]) + 0.01
    return f, point


def time_calls(f, point, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        f(point)
    return (time.perf_counter() - start) / calls * 1e3


def censored_data(family: str, rows: int, groups: int, seed: int = 1) -> pd.DataFrame:
    """``simulated`` data of a censorable family at its default link, with a censoring status per row."""
    data = simulated(family, FAMILIES[family].default_link, rows, groups, seed)
    rng = np.random.default_rng(seed + 1)
    data["status"] = rng.choice(list(CENSORING), rows, p=list(CENSORING.values()))
    return data


def switch_rows(terms, t, eta, aux, event_index, right_index, left_index):
    """The censored log-likelihood with each term evaluated on every row and one selected per row."""
    import pytensor.tensor as pt

    status = pt.set_subtensor(pt.ones_like(t, dtype="int8")[right_index], 0)
    status = pt.set_subtensor(status[left_index], -1)
    return pt.switch(pt.eq(status, 0), terms.log_sf(t, eta, *aux),
                     pt.switch(pt.eq(status, -1), terms.log_cdf(t, eta, *aux), terms.event(t, eta, *aux)))


def time_pair(f_a, x_a, f_b, x_b, calls: int, repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` rounds of ``calls`` calls of each, interleaved so both see the same machine load."""
    best_a = best_b = np.inf
    for _ in range(repeats):
        best_a, best_b = min(best_a, time_calls(f_a, x_a, calls)), min(best_b, time_calls(f_b, x_b, calls))
    return best_a, best_b


def censored_rows(args) -> None:
    chosen = [f for f in args.families.split(",") if f] or sorted(n for n, f in FAMILIES.items() if f.censorable)
    rows = []
    for family in chosen:
        data = censored_data(family, args.rows, args.groups)
        formula = "censored(y, status) ~ x + (1 + x | g)"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f_rows, x_rows = logp_dlogp(gb.GLMM(formula, data, family=family).pymc_model)
            saved = families._censored_rows  # read when the log density's graph is made (in logp_dlogp)
            families._censored_rows = switch_rows
            try:
                f_switch, x_switch = logp_dlogp(gb.GLMM(formula, data, family=family).pymc_model)
            finally:
                families._censored_rows = saved
        a, b = float(f_rows(x_rows)[0]), float(f_switch(x_switch)[0])
        if not np.isclose(a, b, rtol=1e-9):
            raise SystemExit(f"{family}: log densities differ ({a} vs {b})")
        ms_rows, ms_switch = time_pair(f_rows, x_rows, f_switch, x_switch, args.calls, args.repeats)
        rows.append({"family": family, "link": FAMILIES[family].default_link, "rows": args.rows,
                     "groups": args.groups, "ms_by_rows": ms_rows, "ms_switch": ms_switch,
                     "speedup": ms_switch / ms_rows, "logp": a})
        print(f"{family:12s} by rows {ms_rows:7.3f} ms   switch {ms_switch:7.3f} ms   × {ms_switch / ms_rows:.1f}",
              flush=True)
    RESULTS.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(RESULTS / "gradients_censored.csv", index=False)
    print(f"wrote {RESULTS / 'gradients_censored.csv'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--families", default="", help="comma-separated (default: all with a direct log-density)")
    parser.add_argument("--censored", action="store_true", help="censored likelihoods: by rows against a switch")
    args = parser.parse_args()
    if args.censored:
        return censored_rows(args)
    chosen = [f for f in args.families.split(",") if f] or sorted(n for n, f in FAMILIES.items() if f.direct_logp)
    rows = []
    for family in chosen:
        fam = FAMILIES[family]
        for link in fam.direct_logp:
            data = simulated(family, link, args.rows, args.groups)
            formula = ("p(y, n)" if fam.needs_trials else "y") + " ~ x + (1 + x | g)"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                direct = gb.GLMM(formula, data, family=family, link=link, aggregate=False).pymc_model
                saved = fam.direct_logp
                object.__setattr__(fam, "direct_logp", {})
                try:
                    builtin = gb.GLMM(formula, data, family=family, link=link, aggregate=False).pymc_model
                finally:
                    object.__setattr__(fam, "direct_logp", saved)
                (f_direct, x_direct), (f_builtin, x_builtin) = logp_dlogp(direct), logp_dlogp(builtin)
            a, b = float(f_direct(x_direct)[0]), float(f_builtin(x_builtin)[0])
            if not np.isclose(a, b, rtol=1e-9):
                raise SystemExit(f"{family}: log densities differ ({a} vs {b})")
            best = {"direct": np.inf, "pymc": np.inf}
            for _ in range(args.repeats):  # interleaved, so both see the same machine load
                best["direct"] = min(best["direct"], time_calls(f_direct, x_direct, args.calls))
                best["pymc"] = min(best["pymc"], time_calls(f_builtin, x_builtin, args.calls))
            rows.append({"family": family, "link": link, "rows": args.rows, "groups": args.groups,
                         "ms_direct": best["direct"], "ms_pymc": best["pymc"],
                         "speedup": best["pymc"] / best["direct"], "logp": a})
            print(f"{family:32s} {link:9s} direct {best['direct']:7.3f} ms   PyMC {best['pymc']:7.3f} ms   "
                  f"× {best['pymc'] / best['direct']:.1f}", flush=True)
    RESULTS.mkdir(exist_ok=True)
    pd.DataFrame(rows).to_csv(RESULTS / "gradients.csv", index=False)
    print(f"wrote {RESULTS / 'gradients.csv'}")


if __name__ == "__main__":
    main()
