"""Tests for glmm_bayes.datasets (the simulated hospital study)."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from glmm_bayes import datasets
from glmm_bayes.datasets import (
    BUILTIN,
    HOSPITAL_FORMULAS,
    HOSPITAL_TRUTH,
    hospital,
    load,
)
from glmm_bayes.errors import GLMMInputError

EXPECTED_COLUMNS = [
    "DID",
    "Experience",
    "Age",
    "Married",
    "Sex",
    "WBC",
    "RBC",
    "IL6",
    "CRP",
    "CancerStage",
    "LengthofStay",
    "remission",
    "tumorcount",
    "mobility",
    "discharge",
]
INT_COLUMNS = ["DID", "Experience", "Married", "LengthofStay", "remission", "tumorcount", "mobility"]
FLOAT_COLUMNS = ["Age", "WBC", "RBC", "IL6", "CRP"]
STRING_COLUMNS = ["Sex", "CancerStage", "discharge"]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return hospital()


# ---------------------------------------------------------------- structure


def test_columns_and_dtypes(df: pd.DataFrame) -> None:
    assert list(df.columns) == EXPECTED_COLUMNS
    assert df.shape[1] == 15
    for col in INT_COLUMNS:
        assert pd.api.types.is_integer_dtype(df[col]), col
    for col in FLOAT_COLUMNS:
        assert pd.api.types.is_float_dtype(df[col]), col
    for col in STRING_COLUMNS:
        assert not isinstance(df[col].dtype, pd.CategoricalDtype), col
        assert pd.api.types.is_string_dtype(df[col]), col
    assert not df.isna().any().any()


def test_value_ranges(df: pd.DataFrame) -> None:
    assert set(df["DID"].unique()) == set(range(1, 408))
    assert df["DID"].is_monotonic_increasing
    assert set(df["Sex"].unique()) == {"female", "male"}
    assert sorted(df["CancerStage"].unique()) == ["I", "II", "III", "IV"]
    assert set(df["Married"].unique()) == {0, 1}
    assert set(df["remission"].unique()) == {0, 1}
    assert df["Experience"].between(7, 30).all()
    assert df["LengthofStay"].between(1, 10).all()
    assert (df["IL6"] > 0).all() and (df["CRP"] > 0).all()
    assert (df["tumorcount"] >= 0).all()
    # Experience is a doctor-level covariate: constant within doctor
    assert (df.groupby("DID")["Experience"].nunique() == 1).all()
    # rough marginal moments
    assert abs(df["Age"].mean() - 50) < 1 and abs(df["Age"].std() - 8) < 1
    assert abs(df["WBC"].mean() - 6) < 0.2
    assert abs(df["RBC"].mean() - 5) < 0.05
    assert abs(df["IL6"].mean() - 4) < 0.3 and abs(df["IL6"].std() - 3) < 0.4
    assert abs(df["CRP"].mean() - 5) < 0.3
    assert abs(df["LengthofStay"].mean() - 5) < 0.5
    props = df["CancerStage"].value_counts(normalize=True)
    for stage, p in {"I": 0.30, "II": 0.35, "III": 0.23, "IV": 0.12}.items():
        assert abs(props[stage] - p) < 0.03, stage
    # length of stay increases with stage
    los_by_stage = df.groupby("CancerStage")["LengthofStay"].mean().loc[["I", "II", "III", "IV"]]
    assert los_by_stage.is_monotonic_increasing


def test_patients_per_doctor(df: pd.DataFrame) -> None:
    sizes = df.groupby("DID").size()
    assert len(sizes) == 407
    assert sizes.min() >= 2 and sizes.max() <= 40
    assert sizes.nunique() > 10  # doctors really differ in size


def test_total_rows_close_to_8525(df: pd.DataFrame) -> None:
    assert abs(len(df) - 8525) <= 0.03 * 8525


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_total_rows_other_seeds(seed: int) -> None:
    d = hospital(seed=seed)
    assert abs(len(d) - 8525) <= 0.03 * 8525
    assert d.groupby("DID").size().between(2, 40).all()


@pytest.mark.parametrize("n_doctors", [1, 10, 100, 1000])
def test_scales_with_n_doctors(n_doctors: int) -> None:
    d = hospital(seed=3, n_doctors=n_doctors)
    sizes = d.groupby("DID").size()
    assert len(sizes) == n_doctors
    assert sizes.between(2, 40).all()
    expected = 8525 * n_doctors / 407
    assert abs(len(d) - expected) <= max(0.03 * expected, 1)


@pytest.mark.parametrize("bad", [0, -5, 2.5, "10"])
def test_bad_n_doctors(bad: object) -> None:
    with pytest.raises(GLMMInputError):
        hospital(n_doctors=bad)  # type: ignore[arg-type]


# ---------------------------------------------------------------- reproducibility


def test_same_seed_identical(df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(hospital(seed=2024), df)
    pd.testing.assert_frame_equal(hospital(seed=11), hospital(seed=11))


def test_different_seed_differs(df: pd.DataFrame) -> None:
    other = hospital(seed=2025)
    assert not other.equals(df)
    n = min(len(df), len(other))
    assert not np.allclose(df["IL6"].to_numpy()[:n], other["IL6"].to_numpy()[:n])


def test_fast() -> None:
    import time

    hospital()  # warm-up
    start = time.perf_counter()
    hospital(seed=5)
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------- truth


def test_truth_structure() -> None:
    expected_remission = {
        "b_Intercept": -1.0,
        "b_IL6": -0.06,
        "b_CRP": -0.02,
        "b_CancerStage[II]": -0.3,
        "b_CancerStage[III]": -0.8,
        "b_CancerStage[IV]": -2.0,
        "b_LengthofStay": -0.2,
        "b_Experience": 0.12,
        "sd_DID__Intercept": 1.5,
        "sd_DID__IL6": 0.1,
        "cor_DID__Intercept__IL6": -0.3,
    }
    for key, value in expected_remission.items():
        assert HOSPITAL_TRUTH[key] == value, key
        assert HOSPITAL_TRUTH["remission"][key] == value, key
    tc = HOSPITAL_TRUTH["tumorcount"]
    for key in ("b_Intercept", "b_Age", "sd_DID__Intercept", "alpha"):
        assert key in tc
    assert tc["sd_DID__Intercept"] == 0.5 and tc["alpha"] == 1.5
    mob = HOSPITAL_TRUTH["mobility"]
    cuts = [mob[f"cutpoint[{k}]"] for k in (1, 2, 3)]
    assert cuts == sorted(cuts)
    assert "b_Age" in mob and "b_LengthofStay" in mob
    assert mob["sd_DID__Intercept"] == 0.8
    assert set(HOSPITAL_FORMULAS) == {"remission", "tumorcount", "mobility", "discharge"}
    assert HOSPITAL_FORMULAS["remission"] == (
        "remission ~ IL6 + CRP + CancerStage + LengthofStay + Experience + (1 + IL6 | DID)"
    )
    for outcome, formula in HOSPITAL_FORMULAS.items():
        assert formula.startswith(f"{outcome} ~")
        assert "| DID)" in formula


def test_remission_rate(df: pd.DataFrame) -> None:
    rate = df["remission"].mean()
    assert 0.2 <= rate <= 0.45


def _design(d: pd.DataFrame) -> np.ndarray:
    stage = d["CancerStage"]
    return np.column_stack(
        [
            np.ones(len(d)),
            d["IL6"],
            d["CRP"],
            stage.eq("II"),
            stage.eq("III"),
            stage.eq("IV"),
            d["LengthofStay"],
            d["Experience"],
        ]
    ).astype(float)


def _logistic_mle(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Plain logistic regression by maximum likelihood (Newton trust region)."""

    def nll(b: np.ndarray) -> float:
        eta = X @ b
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta))

    def grad(b: np.ndarray) -> np.ndarray:
        return X.T @ (1.0 / (1.0 + np.exp(-(X @ b))) - y)

    def hess(b: np.ndarray) -> np.ndarray:
        p = 1.0 / (1.0 + np.exp(-(X @ b)))
        return X.T @ (X * (p * (1.0 - p))[:, None])

    res = minimize(nll, np.zeros(X.shape[1]), jac=grad, hess=hess, method="trust-exact")
    assert res.success, res.message
    assert np.max(np.abs(grad(res.x))) < 1e-3
    return res.x


def test_remission_truth_recovered_by_glm() -> None:
    """Independent check that the documented truth generated `remission`.

    A logistic regression without random effects is fitted by maximum
    likelihood. Random effects attenuate the marginal coefficients, so only
    signs and ordering are checked. Four times the default number of doctors
    gives enough power for the small CRP slope (z ~ -5).
    """
    d = hospital(seed=2024, n_doctors=4 * 407)
    X = _design(d)
    y = d["remission"].to_numpy(float)
    b = _logistic_mle(X, y)
    names = [
        "b_IL6",
        "b_CRP",
        "b_CancerStage[II]",
        "b_CancerStage[III]",
        "b_CancerStage[IV]",
        "b_LengthofStay",
        "b_Experience",
    ]
    est = dict(zip(names, b[1:]))
    for name in names:
        assert np.sign(est[name]) == np.sign(HOSPITAL_TRUTH[name]), (name, est[name])
        # attenuated, never amplified beyond noise
        assert abs(est[name]) < 1.2 * abs(HOSPITAL_TRUTH[name]), (name, est[name])
    stage = [est["b_CancerStage[II]"], est["b_CancerStage[III]"], est["b_CancerStage[IV]"]]
    assert min(est.values()) == est["b_CancerStage[IV]"]
    assert stage[0] > stage[1] > stage[2]


def test_remission_glm_default_data(df: pd.DataFrame) -> None:
    """Same check on the default data set for the clearly identified effects."""
    b = _logistic_mle(_design(df), df["remission"].to_numpy(float))
    assert b[1] < 0  # IL6
    assert b[5] < b[4] < 0  # stage IV < stage III < 0
    assert b[5] == b[1:].min()
    assert b[6] < 0  # LengthofStay
    assert b[7] > 0  # Experience


def test_remission_varies_by_doctor(df: pd.DataFrame) -> None:
    rates = df.groupby("DID")["remission"].mean()
    # random intercept sd 1.5 on the logit scale: far more spread than binomial noise
    assert rates.std() > 0.2


def test_tumorcount_overdispersed(df: pd.DataFrame) -> None:
    y = df["tumorcount"]
    assert 2 <= y.mean() <= 4
    assert y.var() > 1.5 * y.mean()
    assert (y == 0).mean() > 0.1
    # later stages have more tumours
    by_stage = y.groupby(df["CancerStage"]).mean().loc[["I", "IV"]]
    assert by_stage["IV"] > by_stage["I"]


def test_mobility_ordinal(df: pd.DataFrame) -> None:
    m = df["mobility"]
    assert set(m.unique()) == {1, 2, 3, 4}
    assert m.value_counts(normalize=True).min() > 0.05
    # positive effects of Age and LengthofStay: higher scores for older / longer stays
    old = df["Age"] > df["Age"].median()
    assert m[old].mean() > m[~old].mean()
    assert np.corrcoef(df["LengthofStay"], m)[0, 1] > 0


def test_discharge_categorical(df: pd.DataFrame) -> None:
    d = df["discharge"]
    shares = d.value_counts(normalize=True)
    assert set(shares.index) == {"home", "nursing", "rehab"} and shares.min() > 0.05
    # older patients leave for a nursing home more often (b_munursing_Age > b_murehab_Age > 0)
    old = df["Age"] > df["Age"].quantile(0.75)
    assert (d[old] == "nursing").mean() > (d[~old] == "nursing").mean()
    assert (d[old] == "home").mean() < (d[~old] == "home").mean()


def test_earlier_columns_do_not_depend_on_discharge(df: pd.DataFrame) -> None:
    """discharge is drawn last, so adding it left the 14 older columns of the default seed unchanged
    (hash of the frame as generated before discharge existed, commit 3634ec9)."""
    older = df.drop(columns="discharge")
    assert int(pd.util.hash_pandas_object(older).sum()) == 8713428635567127360


# ---------------------------------------------------------------- load


def test_builtin() -> None:
    assert BUILTIN == ("hospital",)


def test_load_hospital(df: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(load("hospital"), df)
    pd.testing.assert_frame_equal(load("hospital", seed=9), hospital(seed=9))


def test_load_unknown_raises() -> None:
    with pytest.raises(GLMMInputError, match="hospital"):
        load("nope")
    assert issubclass(GLMMInputError, ValueError)


def test_doctests() -> None:
    result = doctest.testmod(datasets, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
