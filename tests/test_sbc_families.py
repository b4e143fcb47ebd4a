"""A quick simulation-based calibration for every family beyond the basics.

Per family: ``y ~ x + (1 | g)`` on 48 rows, proper priors (so that prior draws give sensible data),
``N_SIMS`` replicates (the full 200-replicate run is benchmarks/sbc.py); the chi-square
uniformity test of the ranks, Bonferroni-adjusted over the parameters, must not reject at 0.1 %.
The generating and fitted models are the same PyMC graph, so this checks the family's
likelihood, its parameter transforms (ordered cutpoints, unit-interval zi/hu, censoring
bounds) and the sampler together. tests/test_sbc.py shows the test catches a wrong prior.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import glmm_bayes as gb

N_SIMS = 100 if os.environ.get("GLMM_BAYES_FULL") == "1" else 30
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from sbc import BASE, FAMILIES, design  # noqa: E402  (one definition of the per-family set-ups)

# the families beyond the basics (tests/test_sbc.py covers gaussian). For beta, PyMC's Beta sampler can
# return exactly 0 or 1 for some prior draws; GLMM.prior_predictive clips them into (0, 1) as the
# family's own simulator does, else the fit could not start ("All initialization points failed")
BASIC = {"gaussian", "bernoulli", "binomial", "poisson", "negativebinomial", "gamma"}
CASES = {family: setup for family, setup in FAMILIES.items() if family not in BASIC}


@pytest.mark.parametrize("family", list(CASES))
def test_sbc_family(family):
    kind, priors = CASES[family]
    lhs, df = design(kind, groups=8, per_group=6)
    prior = {k: v for k, v in {**BASE, **priors}.items() if k != "cor"}  # (1 | g): no correlation
    if family == "cumulative":
        prior.pop("Intercept")
    model = gb.GLMM(f"{lhs} ~ x + (1 | g)", df, family=family, priors=prior)
    result = gb.sbc(model, n_sims=N_SIMS, draws=200, tune=200, thin=2, seed=3)
    assert result.ranks.shape[0] == N_SIMS
    assert result.min_p_value() > 0.001, result.tests.to_string()
