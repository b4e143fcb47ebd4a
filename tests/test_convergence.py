"""The vectorised R-hat / bulk ESS / tail ESS (glmm_bayes.convergence) give ArviZ's numbers."""

import arviz as az
import numpy as np
import pytest
import xarray as xr

from glmm_bayes.convergence import rank_diagnostics


def _autoregressive(rng, shape, phi):
    x = np.zeros(shape)
    noise = rng.normal(size=shape)
    for t in range(1, shape[1]):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


def _cases():
    rng = np.random.default_rng(1)
    shifted = rng.normal(size=(4, 100, 20)) + np.arange(4)[:, None, None]
    with_nan = rng.normal(size=(4, 60, 4))
    with_nan[2, 10, 1] = np.nan
    return {
        "iid": rng.normal(size=(4, 200, 50)),
        "autocorrelated": _autoregressive(rng, (4, 200, 50), 0.9),
        "nearly stuck, odd draws": _autoregressive(rng, (4, 301, 20), 0.99),
        "antithetic": _autoregressive(rng, (4, 200, 30), -0.7),
        "chains disagree": shifted,
        "ties": rng.integers(0, 3, size=(4, 100, 20)).astype(float),
        "one chain": rng.normal(size=(1, 100, 5)),
        "very short": rng.normal(size=(2, 7, 5)),
        "constant": np.ones((4, 50, 3)),
        "nan draw": with_nan,
        "more than one block": rng.normal(size=(2, 40, 1100)),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_matches_arviz(case):
    draws = _cases()[case]
    ds = xr.Dataset({"a": (("chain", "draw", "k"), draws)})
    with np.errstate(all="ignore"):
        expected = [az.rhat(ds)["a"].values, az.ess(ds, method="bulk")["a"].values,
                    az.ess(ds, method="tail")["a"].values]
    for got, want in zip(rank_diagnostics(draws), expected):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got, want, rtol=1e-8, equal_nan=True)


def test_flags_disagreeing_chains_and_autocorrelation():
    rng = np.random.default_rng(2)
    draws = np.concatenate([rng.normal(size=(4, 500, 1)),
                            rng.normal(size=(4, 500, 1)) + np.array([0, 0, 0, 3.0])[:, None, None],
                            _autoregressive(rng, (4, 500, 1), 0.98)], axis=2)
    rhat, ess_bulk, ess_tail = rank_diagnostics(draws)
    assert rhat[0] < 1.01 < rhat[1]
    assert ess_bulk[2] < 200 < ess_bulk[0]
    assert ess_tail[2] < ess_tail[0]


def test_group_effects_are_named_as_brms_names_them_in_diagnostics():
    """Warnings name a group effect r_<group>[<level>,<column>] (brms), which ranef() lists, not the sampler's
    z_/u_/v_ variables; where an effect and its standardised form share a name the worse value counts."""
    import warnings

    import pandas as pd

    import glmm_bayes as gb
    from glmm_bayes.inference import diagnose

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"site.id": np.repeat([f"s{i}" for i in range(5)], 8), "x": rng.normal(size=40)})
    df["y"] = rng.normal(size=40) + df["x"] + np.repeat(rng.normal(size=5), 8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = gb.GLMM("y ~ x + (1 + x | site.id)", df).fit(draws=60, tune=60, chains=2, seed=1, progressbar=False)
        only_effects = diagnose(fit.idata, xr.Dataset(), warn=False,
                                group_labels={b.key: b.label for b in fit.model.design.blocks})
    effects = {f"r_site.id[{r.level},{r.column}]" for r in fit.ranef().itertuples()}
    for name in (only_effects.max_rhat_param, only_effects.min_ess_bulk_param, only_effects.min_ess_tail_param):
        assert name in effects, (name, sorted(effects))
    worst = fit.diagnostics
    for name in (worst.max_rhat_param, worst.min_ess_bulk_param, worst.min_ess_tail_param):
        assert not name.startswith(("z_", "u_", "v_")), name

    from glmm_bayes.inference import _rank_diagnostics

    draws = np.random.default_rng(0).normal(size=(2, 100, 2, 1))
    draws[1, :, 1, 0] += 5.0  # level b disagrees between chains in z_k only
    coords = {"k__level": ["a", "b"], "k__coef": ["Intercept"]}
    ds = xr.Dataset({v: (("chain", "draw", "k__level", "k__coef"), d) for v, d in
                     (("z_k", draws), ("u_k", np.random.default_rng(1).normal(size=(2, 100, 2, 1))))},
                    coords=coords)
    rhat, _, _ = _rank_diagnostics(ds, {"k": "school"})
    assert set(rhat) == {"r_school[a,Intercept]", "r_school[b,Intercept]"} and rhat["r_school[b,Intercept]"] > 1.5


def test_divergences_of_a_count_model_with_an_identity_link_point_to_the_link():
    """MASS epil with link='identity' and (1 | subject) diverged on every transition (black-box sweep); the
    warning said only 'increase target_accept'. It now names the link; a log-link model gets no such hint."""
    import pandas as pd

    import glmm_bayes as gb
    from glmm_bayes.inference import Diagnostics, _messages, divergence_hint

    df = pd.DataFrame({"y": [0, 3, 1, 8, 2, 0] * 4, "x": np.arange(24.0), "g": list("abcd") * 6})
    identity = divergence_hint(gb.GLMM("y ~ x + (1 | g)", df, family="poisson", link="identity").design)
    assert "identity link" in identity and "log link" in identity
    assert divergence_hint(gb.GLMM("y ~ x + (1 | g)", df, family="poisson").design) == ""
    d = Diagnostics(1.0, "b_x", 1000.0, "b_x", 1000.0, "b_x", 12, 4000, [1.0], 0.0)
    (message,) = _messages(d, 4, identity)
    assert message.startswith("12 of 4000 transitions") and message.endswith(identity.strip()[-40:])
