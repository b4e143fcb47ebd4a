"""Simulation-based calibration: uniform ranks for the real sampler, and a mis-specified fit is caught."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb

N_SIMS = 200 if os.environ.get("GLMM_BAYES_FULL") == "1" else 60
PRIORS = {"Intercept": "normal(0, 1)", "b": "normal(0, 1)", "sd": "half_normal(1)", "sigma": "half_normal(1)"}


@pytest.fixture(scope="module")
def model():
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(8), 6)
    df = pd.DataFrame({"y": rng.normal(size=g.size), "x": rng.normal(size=g.size), "g": g})
    return gb.GLMM("y ~ x + (1 | g)", df, priors=PRIORS)


def test_sbc_ranks_are_uniform(model):
    result = gb.sbc(model, n_sims=N_SIMS, draws=200, tune=200, thin=4, seed=1)
    assert list(result.ranks.columns) == ["b_Intercept", "b_x", "sd_g__Intercept", "sigma"]
    assert result.ranks.shape == (N_SIMS, 4) and result.ranks.to_numpy().max() <= result.n_draws
    # Bonferroni-adjusted over the 4 parameters; a calibrated sampler fails this 0.1 % of the time
    assert result.min_p_value() > 0.001, result.tests
    assert result.plot().axes[0].get_title()


def test_sbc_catches_a_wrong_prior_scale(model):
    wrong = gb.sbc(model, n_sims=N_SIMS, draws=200, tune=200, thin=4, seed=1,
                   fit_priors={"sd": "half_normal(0.1)", "b": "normal(0, 0.1)", "Intercept": "normal(0, 0.1)"})
    assert wrong.min_p_value() < 1e-5, wrong.tests


@pytest.mark.slow
def test_sbc_ranks_are_uniform_for_centred_intercepts():
    """The ``centred_intercept`` form (intercepts centred around the fixed part, with the group-level
    predictor w in it; slopes non-centred) is calibrated: Poisson counts, correlated (1 + x | g)."""
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(10), 8)
    df = pd.DataFrame({"y": rng.poisson(3.0, g.size), "x": rng.normal(1.0, 1.0, g.size),
                       "w": rng.normal(size=10)[g], "g": g})
    priors = {"Intercept": "normal(1, 0.5)", "b": "normal(0, 0.3)", "sd": "half_normal(0.5)", "cor": "lkj(2)"}
    model = gb.GLMM("y ~ x + w + (1 + x | g)", df, family="poisson", priors=priors,
                    parameterization="centred_intercept")
    assert model.centred_intercept_blocks == ["g"]
    result = gb.sbc(model, n_sims=N_SIMS, draws=200, tune=300, thin=4, seed=3)
    assert {"b_w", "sd_g__x", "cor_g__Intercept__x"} <= set(result.ranks.columns)
    assert result.min_p_value() > 0.001, result.tests


@pytest.mark.slow
def test_sbc_ranks_are_uniform_for_broods_centred_within_locations():
    """Nested hierarchical centring (broods centred around the fixed part, with the location-level predictor
    w, and their location's effect; locations non-centred) is calibrated, starting from the levels' empirical
    log rates of the data the model was built on whatever each replicate's outcome: Poisson counts."""
    rng = np.random.default_rng(4)
    loc = np.repeat(np.arange(10), 8)
    brood = np.repeat(np.arange(20), 4)
    df = pd.DataFrame({"y": rng.poisson(4.0, loc.size), "w": rng.normal(size=10)[loc], "loc": loc, "brood": brood})
    priors = {"Intercept": "normal(1, 0.5)", "b": "normal(0, 0.3)", "sd": "half_normal(0.5)"}
    model = gb.GLMM("y ~ w + (1 | brood) + (1 | loc)", df, family="poisson", priors=priors,
                    parameterization={"brood": "centred"})
    assert model.centred_blocks == ["brood"] and "z_loc" in {v.name for v in model.pymc_model.free_RVs}
    result = gb.sbc(model, n_sims=N_SIMS, draws=200, tune=300, thin=4, seed=5)
    assert {"b_w", "sd_brood__Intercept", "sd_loc__Intercept"} <= set(result.ranks.columns)
    assert result.min_p_value() > 0.001, result.tests
