"""Bad input is refused with ``GLMMInputError`` and a message that names the problem and the fix.

Every test builds ``gb.GLMM(...)`` (or a spec, or calls ``fit`` with impossible
settings) on tiny synthetic data and checks that construction fails *before*
any sampling, with the one user-facing exception type and a message that names
the offending column / value / key and hints at what to do.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.spec import ModelSpec

N_ROWS = 40
N_GROUPS = 5


# ---------------------------------------------------------------- helpers
def make_data(seed: int = 0, n: int = N_ROWS, groups: int = N_GROUPS) -> pd.DataFrame:
    """A small data frame with an outcome for every family and a grouping factor ``g``."""
    rng = np.random.default_rng(seed)
    g = np.sort([f"g{i % groups}" for i in range(n)]).astype(object)
    x = rng.normal(size=n)
    trials = rng.integers(5, 15, size=n)
    return pd.DataFrame({
        "y": 1.0 + 0.5 * x + rng.normal(size=n),
        "x": x,
        "Age": rng.integers(20, 70, size=n),
        "yb": np.arange(n) % 2,
        "count": rng.poisson(3.0, size=n),
        "s": rng.binomial(trials, 0.4),
        "n": trials,
        "g": g,
        "h": np.where(np.arange(n) % 2 == 0, "a", "b").astype(object),
        "prop": rng.uniform(0.05, 0.95, size=n),
        "rating": np.arange(n) % 4 + 1,
        "time": rng.exponential(10.0, size=n) + 0.1,
        "status": (np.arange(n) % 3 != 0).astype(int),
    })


def raises(**kwargs) -> str:
    """Construct a GLMM that must fail; return the error message (checked to read as plain words)."""
    formula = kwargs.pop("formula")
    data = kwargs.pop("data", None)
    data = make_data() if data is None else data
    with pytest.raises(GLMMInputError) as info:
        gb.GLMM(formula, data, **kwargs)
    message = str(info.value)
    assert_readable(message)
    return message


def assert_readable(message: str) -> None:
    """A user message shows values as a person writes them, not as Python reprs."""
    assert message.strip(), "empty error message"
    assert "Traceback" not in message
    for internal in ("np.float64(", "np.int64(", "array(", "dtype="):
        assert internal not in message, f"message shows an internal repr {internal!r}: {message}"


def assert_has(message: str, *parts: str) -> None:
    for part in parts:
        assert part.lower() in message.lower(), f"{part!r} not in message: {message}"


# ---------------------------------------------------------------- 1. missing columns
def test_missing_column_in_fixed_effects_suggests_close_name():
    msg = raises(formula="y ~ age + (1 | g)")
    assert_has(msg, "'age'", "not in the data", "did you mean", "'Age'")


def test_missing_response_column():
    msg = raises(formula="outcome ~ x + (1 | g)")
    assert_has(msg, "'outcome'", "response", "not in the data")


def test_missing_grouping_column():
    msg = raises(formula="y ~ x + (1 | grp)")
    assert_has(msg, "'grp'", "not in the data")


def test_missing_categorical_column():
    msg = raises(formula="y ~ x + (1 | g)", categorical=["hh"])
    assert_has(msg, "'hh'", "categorical", "not in the data")


# ---------------------------------------------------------------- 2. missing values
def with_missing(column: str = "x", rows=(1, 7, 20)) -> pd.DataFrame:
    df = make_data()
    df.loc[list(rows), column] = np.nan
    return df


def test_missing_values_error_names_rows_column_and_na_action():
    msg = raises(formula="y ~ x + (1 | g)", data=with_missing("x"))
    assert_has(msg, "3 row", "'x'", "na_action", "drop")


def test_missing_values_in_grouping_factor():
    df = make_data()
    df["g"] = df["g"].astype(object)
    df.loc[[0, 5], "g"] = None
    msg = raises(formula="y ~ x + (1 | g)", data=df)
    assert_has(msg, "2 row", "'g'", "na_action")


def test_missing_values_in_unused_column_are_ignored():
    df = make_data()
    df["unused"] = np.nan
    model = gb.GLMM("y ~ x + (1 | g)", df)
    assert model.design.n == N_ROWS


def test_na_action_drop_warns_and_drops():
    with pytest.warns(UserWarning, match=r"\b3\b") as record:
        model = gb.GLMM("y ~ x + (1 | g)", with_missing("x"), na_action="drop")
    assert any("3" in str(w.message) and "'x'" in str(w.message) for w in record)
    assert model.design.n == N_ROWS - 3
    assert model.design.dropped_rows == 3


def test_na_action_unknown_value():
    msg = raises(formula="y ~ x + (1 | g)", data=with_missing("x"), na_action="omit")
    assert_has(msg, "na_action", "'omit'", "'drop'")


def test_na_action_drop_leaving_no_rows():
    df = make_data()
    df["x"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        msg = raises(formula="y ~ x + (1 | g)", data=df, na_action="drop")
    assert_has(msg, "missing")


# ---------------------------------------------------------------- 3.-5. response values
def test_bernoulli_response_not_binary():
    df = make_data()
    df.loc[3, "yb"] = 2
    msg = raises(formula="yb ~ x + (1 | g)", data=df, family="bernoulli")
    assert_has(msg, "bernoulli", "'yb'", "0/1", "2", "row 3")


def test_poisson_negative_count():
    df = make_data()
    df.loc[4, "count"] = -1
    msg = raises(formula="count ~ x + (1 | g)", data=df, family="poisson")
    assert_has(msg, "poisson", "'count'", "-1", "row 4", "non-negative")


@pytest.mark.parametrize("family", ["poisson", "negativebinomial"])
def test_count_family_non_integer(family):
    df = make_data()
    df["count"] = df["count"].astype(float)
    df.loc[6, "count"] = 2.5
    msg = raises(formula="count ~ x + (1 | g)", data=df, family=family)
    assert_has(msg, family, "'count'", "2.5", "row 6", "whole")


def test_binomial_successes_exceed_trials():
    df = make_data()
    df.loc[2, "s"] = df.loc[2, "n"] + 3
    msg = raises(formula="p(s, n) ~ x + (1 | g)", data=df, family="binomial")
    assert_has(msg, "successes", "trials", "row 2", f"{df.loc[2, 's']}", "p(successes, trials)")


def test_binomial_without_trials():
    msg = raises(formula="yb ~ x + (1 | g)", family="binomial")
    assert_has(msg, "binomial", "p(successes, trials)", "bernoulli")


# ---------------------------------------------------------------- 6. one-level grouping factor
def test_grouping_factor_with_one_level():
    df = make_data()
    df["g"] = "only"
    msg = raises(formula="y ~ x + (1 | g)", data=df)
    assert_has(msg, "'g'", "one level", "only", "two")


# ---------------------------------------------------------------- 7.-8. family and link
def test_unknown_family_lists_available():
    msg = raises(formula="count ~ x + (1 | g)", family="poison")
    assert_has(msg, "'poison'", "poisson", "gaussian", "bernoulli", "binomial")


def test_link_not_valid_for_family():
    msg = raises(formula="count ~ x + (1 | g)", family="poisson", link="logit")
    assert_has(msg, "'logit'", "poisson", "log", "identity")


def test_unknown_link_name():
    msg = raises(formula="y ~ x + (1 | g)", family="gaussian", link="lgo")
    assert_has(msg, "'lgo'", "gaussian", "identity")


# ---------------------------------------------------------------- 9.-10. priors
@pytest.mark.parametrize("text, parts", [
    ("normal(0,", ["'b'", "malformed", "normal(0, 2.5)"]),
    ("normal(0, -1)", ["'b'", "sigma", "> 0", "-1"]),
    ("normal(0)", ["'b'", "2 argument", "mu", "sigma"]),
    ("foo(1)", ["'b'", "'foo'", "half_normal", "normal"]),
    ("normal(0, inf)", ["'b'"]),
    ("normal(0, 1e999)", ["'b'", "finite"]),
])
def test_malformed_prior_string(text, parts):
    msg = raises(formula="y ~ x + (1 | g)", priors={"b": text})
    assert_has(msg, *parts)


def test_prior_not_a_string():
    msg = raises(formula="y ~ x + (1 | g)", priors={"b": 3.0})
    assert_has(msg, "'b'", "normal(0, 2.5)", "3.0")


def test_priors_not_a_dict():
    msg = raises(formula="y ~ x + (1 | g)", priors="normal(0, 1)")
    assert_has(msg, "priors", "dict")


def test_unknown_prior_key_for_group():
    msg = raises(formula="y ~ x + (1 | g)", priors={"sd_grp": "half_normal(1)"})
    assert_has(msg, "'sd_grp'", "unknown prior key", "sd_g")


def test_unknown_prior_key_typo_suggests_sigma():
    msg = raises(formula="y ~ x + (1 | g)", priors={"sigam": "exponential(1)"})
    assert_has(msg, "'sigam'", "did you mean", "'sigma'")


def test_prior_key_of_other_family():
    msg = raises(formula="count ~ x + (1 | g)", family="poisson", priors={"sigma": "exponential(1)"})
    assert_has(msg, "'sigma'", "unknown prior key")


def test_prior_key_not_a_string():
    msg = raises(formula="y ~ x + (1 | g)", priors={1: "normal(0, 1)"})
    assert_has(msg, "1")


def test_sd_prior_must_be_positive():
    msg = raises(formula="y ~ x + (1 | g)", priors={"sd": "normal(0, 1)"})
    assert_has(msg, "sd_g", "normal(0, 1)", "standard deviation", "half_normal")


def test_sigma_prior_must_be_positive():
    msg = raises(formula="y ~ x + (1 | g)", priors={"sigma": "normal(0, 1)"})
    assert_has(msg, "'sigma'", "normal(0, 1)", "half_normal")


@pytest.mark.parametrize("key", ["b", "Intercept", "sd", "sigma"])
def test_lkj_prior_on_non_correlation_key(key):
    msg = raises(formula="y ~ x + (1 + x | g)", priors={key: "lkj(2)"})
    assert_has(msg, "lkj(2)", "use e.g.", "normal")
    assert key.lower() in msg.lower()


def test_lkj_prior_on_unused_key():
    msg = raises(formula="y ~ x", priors={"sd": "lkj(2)"})
    assert_has(msg, "'sd'", "lkj", "cor")


def test_correlation_prior_must_be_lkj():
    msg = raises(formula="y ~ x + (1 + x | g)", priors={"cor": "normal(0, 1)"})
    assert_has(msg, "cor_g", "lkj")


# ---------------------------------------------------------------- column names and types
def test_duplicate_column_names():
    df = make_data()
    df = pd.concat([df, df[["x"]] * 2], axis=1)
    msg = raises(formula="y ~ x + (1 | g)", data=df)
    assert_has(msg, "'x'")


def test_categorical_given_as_a_string():
    """``categorical="Age"`` means the column Age, not the columns 'A', 'g', 'e'."""
    try:
        model = gb.GLMM("y ~ Age + (1 | g)", make_data(), categorical="Age")
    except GLMMInputError as exc:
        assert_has(str(exc), "'Age'", "categorical", "list")
        assert "'A'" not in str(exc), str(exc)
    else:
        assert isinstance(model.design.data["Age"].dtype, pd.CategoricalDtype)


def test_dotted_column_name_is_not_called_a_forbidden_function():
    """R-style names such as 'Sepal.Length' are columns; a dotted name that is not one is named as such."""
    df = make_data().rename(columns={"x": "Sepal.Length"})
    model = gb.GLMM("y ~ Sepal.Length + (1 | g)", df)
    assert model.design.X_columns == ["Intercept", "Sepal.Length"]
    msg = raises(formula="y ~ Sepal.Width + (1 | g)", data=df)
    assert_has(msg, "'Sepal.Width'", "neither a column")


def test_datetime_predictor():
    df = make_data()
    df["t"] = pd.date_range("2020-01-01", periods=len(df))
    msg = raises(formula="y ~ t + (1 | g)", data=df)
    assert_has(msg, "'t'", "datetime", "numeric")


# ---------------------------------------------------------------- 11.-12. data shape
def test_empty_data():
    msg = raises(formula="y ~ x + (1 | g)", data=make_data().iloc[:0])
    assert_has(msg, "no rows")


def test_data_not_a_dataframe():
    msg = raises(formula="y ~ x + (1 | g)", data=make_data().to_dict(orient="list"))
    assert_has(msg, "DataFrame", "dict")


@pytest.mark.parametrize("family, column, value", [("bernoulli", "yb", 1), ("gaussian", "y", 5.0)])
def test_constant_response(family, column, value):
    df = make_data()
    df[column] = value
    msg = raises(formula=f"{column} ~ x + (1 | g)", data=df, family=family)
    assert_has(msg, f"'{column}'", "constant", f"{value:g}")


# ---------------------------------------------------------------- 13. formulas
def test_formula_without_tilde():
    msg = raises(formula="y x + (1 | g)")
    assert_has(msg, "formula", "~", "y x + (1 | g)")


def test_formula_not_a_string():
    msg = raises(formula=None)
    assert_has(msg, "formula", "~")


def test_formula_without_response():
    msg = raises(formula=" ~ x + (1 | g)")
    assert_has(msg, "response")


def test_formula_unbalanced_parentheses():
    msg = raises(formula="y ~ x + (1 | g")
    assert_has(msg, "parenthes")


def test_formula_bad_group_term():
    msg = raises(formula="y ~ x + (1 | )")
    assert_has(msg, "group")


def test_formula_import_is_refused_and_never_runs(capfd, tmp_path):
    marker = tmp_path / "ran"
    for formula in ['y ~ __import__("os").system("echo hi")',
                    f'y ~ x + __import__("os").system("touch {marker}")']:
        msg = raises(formula=formula)
        assert_has(msg, "'__import__'", "not allowed")
    out, err = capfd.readouterr()
    assert "hi" not in out.split() and "hi" not in err.split()
    assert not marker.exists()


@pytest.mark.parametrize("formula, name", [
    ("y ~ os.system(x)", "os.system"),
    ("y ~ eval(x)", "eval"),
    ("y ~ exec(x)", "exec"),
    ("y ~ x + (1 + open(x) | g)", "open"),
    ("y ~ np.random.seed(x)", "np.random.seed"),
    ("y ~ x + (lambda: 1)()", "lambda"),
])
def test_formula_forbidden_call(formula, name):
    msg = raises(formula=formula)
    assert_has(msg, f"'{name}'", "not allowed", "C, I")


def test_formula_group_term_without_parentheses():
    """``y ~ x | g`` (parentheses forgotten) must not silently become a model with no terms."""
    msg = raises(formula="y ~ x | g")
    assert_has(msg, "(x | g)")


def test_formula_two_tildes():
    """``y ~ x ~ g`` must not silently drop ``x``."""
    msg = raises(formula="y ~ x ~ g")
    assert_has(msg, "~", "y ~ x ~ g")


def test_formula_unparseable_terms():
    msg = raises(formula="y ~ x + * + (1 | g)")
    assert_has(msg, "x + *")


# ---------------------------------------------------------------- sampler settings (no sampling)
@pytest.fixture(scope="module")
def small_model():
    return gb.GLMM("y ~ x + (1 | g)", make_data())


def test_unknown_backend_before_sampling(small_model):
    with pytest.raises(GLMMInputError) as info:
        small_model.fit(backend="stan", draws=10, tune=10, chains=1, progressbar=False)
    assert_has(str(info.value), "'stan'", "nutpie", "numpyro", "pymc")
    assert getattr(small_model, "_pymc_model", None) is None, "the PyMC model was built before the check"


@pytest.mark.parametrize("kwargs, parts", [
    ({"draws": 0}, ["draws", ">= 1", "0"]),
    ({"chains": 0}, ["chains", ">= 1"]),
    ({"tune": -5}, ["tune", ">= 0"]),
    ({"draws": 10.5}, ["draws", "whole"]),
    ({"seed": -1}, ["seed"]),
    ({"target_accept": 1.5}, ["target_accept", "between 0 and 1"]),
])
def test_impossible_sampler_settings(small_model, kwargs, parts):
    with pytest.raises(GLMMInputError) as info:
        small_model.fit(progressbar=False, **kwargs)
    assert_has(str(info.value), *parts)
    assert getattr(small_model, "_pymc_model", None) is None


def test_unknown_sampler_setting_in_glmm():
    msg = raises(formula="y ~ x + (1 | g)", sampler={"draw": 100})
    assert_has(msg, "'draw'", "draws")


# ---------------------------------------------------------------- 14. spec files
GOOD_SPEC = '''
name = "m"
formula = "y ~ x + (1 | g)"
family = "gaussian"
'''


def test_spec_good_parses():
    assert ModelSpec.from_toml_string(GOOD_SPEC).formula == "y ~ x + (1 | g)"


def test_spec_unknown_key():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string(GOOD_SPEC + 'familly = "poisson"\n')
    assert_has(str(info.value), "familly", "unknown key", "family")


def test_spec_invalid_toml():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string('name = "m"\nformula = "y ~ x\n')
    assert_has(str(info.value), "not valid TOML", "line 2")


def test_spec_sampler_draws_not_a_number():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string(GOOD_SPEC + '[sampler]\ndraws = "many"\n')
    assert_has(str(info.value), "draws", "whole number", "many")


def test_spec_unknown_sampler_key():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string(GOOD_SPEC + '[sampler]\ndrawz = 10\n')
    assert_has(str(info.value), "drawz", "draws")


def test_spec_missing_formula():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string('name = "m"\nfamily = "gaussian"\n')
    assert_has(str(info.value), "formula")


def test_spec_forbidden_formula_refused_on_load():
    """spec.py: 'Loading one never executes code: the formula is checked against an allow-list'."""
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string('name = "m"\nformula = \'y ~ __import__("os").system("echo hi")\'\n')
    assert_has(str(info.value), "'__import__'", "not allowed")


def test_spec_prior_not_a_string():
    with pytest.raises(GLMMInputError) as info:
        ModelSpec.from_toml_string(GOOD_SPEC + '[priors]\nb = 3\n')
    assert_has(str(info.value), "priors", "normal(0, 2.5)")


# ---------------------------------------------------------------- 15. seeded fuzz
# Mostly sensible models with a few damaged parts each, so every stage (family, link,
# formula, data, response checks, group blocks, priors) gets reached by some cases.
FUZZ_RESPONSES = {"gaussian": ["y", "log(Age)", "Age", "y"], "bernoulli": ["yb", "yb[1]", "h[a]", "h"],
                  "binomial": ["p(s, n)"], "poisson": ["count"], "negativebinomial": ["count"],
                  "gamma": ["Age", "exp(y)"], "student_t": ["y"], "lognormal": ["Age", "censored(time, status)"],
                  "beta": ["prop"], "beta_binomial": ["p(s, n)"], "zero_inflated_poisson": ["count"],
                  "zero_inflated_negativebinomial": ["count"], "hurdle_poisson": ["count"],
                  "hurdle_negativebinomial": ["count"], "cumulative": ["rating"],
                  "weibull": ["censored(time, status)", "time"], "exponential": ["censored(time, status)"],
                  "categorical": ["h", "rating"]}
FUZZ_BAD_RESPONSES = ["age", "nope", "g", "y[1]", "p(s, nope)", "censored(y, yb)", "p(n, s)", "count", "y"]
FUZZ_FIXED = ["x", "Age", "C(g)", "x:h", "h", "I(x**2)", "np.log(Age)", "scale(x)", "x*h", "0", "C(Age)"]
FUZZ_BAD_FIXED = ["age", "missing", "foo(x)", "log(x)", "x +", "eval(x)", "x )", "C(nope)"]
FUZZ_GROUPS = ["(1 | g)", "(1 + x | g)", "(x || g)", "(1 | g/h)", "(1 | h:g)", "(0 + x | g)",
               "(1 | g) + (1 | h)", "(1 + x | g) + (1 | h)"]
FUZZ_BAD_GROUPS = ["(1 | const)", "(1 | nope)", "(1 | )", "(x | g) + (x | g)", "(1 | g + h)", "(|g)"]
FUZZ_PRIOR_KEYS = ["Intercept", "b", "sd", "cor"]  # plus the family's parameters and, sometimes, b_x / sd_g
FUZZ_BAD_PRIOR_KEYS = ["sigam", "sd_grp", "b_nope", "", "B", 1, None, ("b",)]
FUZZ_PRIORS = ["normal(0, 1)", "half_normal(2)", "exponential(1)", "student_t(3, 0, 1)", "gamma(2, 1)",
               "lkj(2)", "half_student_t(3, 2.5)"]
FUZZ_BAD_PRIORS = ["normal(0,", "normal(0, -1)", "foo(1)", "uniform(1, 0)", "", 3.0, None, "normal(0, 1e999)",
                   "lkj(0)", "normal(0, 1, 2)", "normal(nan, 1)", ["normal(0, 1)"]]
FUZZ_BAD_FAMILIES = ["poison", "Gaussian", "normal", "nb", 3, None, "weibull"]
FUZZ_BAD_LINKS = ["lgo", 1, "logit", "inverse", ""]


def fuzz_case(seed: int):
    """One random (formula, data, kwargs) combination; about a quarter of each part is damaged."""
    rng = np.random.default_rng(1000 + seed)

    def pick(options):
        return options[int(rng.integers(len(options)))]

    def bad(p: float) -> bool:
        return bool(rng.random() < p * DAMAGE)

    family = pick(sorted(gb.FAMILIES))
    response = pick(FUZZ_RESPONSES[family])
    if bad(0.15):
        response = pick(FUZZ_BAD_RESPONSES)
    link = None
    if bad(0.3):
        link = pick(list(gb.FAMILIES[family].links))
    if bad(0.1):
        link = pick(FUZZ_BAD_LINKS)
    if bad(0.1):
        family = pick(FUZZ_BAD_FAMILIES)

    n = 40 if not bad(0.2) else pick([0, 1, 2, 3, 10])
    df = make_data(seed=seed, n=n, groups=pick([5, 5, 2, 1]) if n else 5)
    df["const"] = "c"
    if bad(0.3) and n:
        damage = pick(["nan", "string_x", "neg_count", "inf_y", "half_count", "nan_g", "bool_yb", "dup_col"])
        if damage == "nan":
            df.loc[0, "x"] = np.nan
        elif damage == "string_x":
            df["x"] = df["x"].round(1).astype(str)
        elif damage == "neg_count":
            df.loc[0, "count"] = -2
        elif damage == "inf_y":
            df.loc[0, "y"] = np.inf
        elif damage == "half_count":
            df["count"] = df["count"] + 0.5
        elif damage == "nan_g":
            df.loc[0, "g"] = None
        elif damage == "bool_yb":
            df["yb"] = df["yb"].astype(bool)
        elif damage == "dup_col":
            df = pd.concat([df, df[["x"]]], axis=1)
    data = df
    if bad(0.05):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # to_dict on duplicate column names
            data = pick([df.to_dict(orient="list"), df.to_numpy(), None, "data.csv"])

    fixed = [pick(FUZZ_FIXED) for _ in range(int(rng.integers(0, 3)))]
    if bad(0.15):
        fixed.append(pick(FUZZ_BAD_FIXED))
    groups = [pick(FUZZ_GROUPS) for _ in range(int(rng.integers(0, 2)))]
    if bad(0.15):
        groups.append(pick(FUZZ_BAD_GROUPS))
    formula = f"{response} ~ {' + '.join(fixed + groups) or '1'}"

    priors = {}
    for _ in range(int(rng.integers(0, 4))):
        good_keys = FUZZ_PRIOR_KEYS + list(getattr(gb.FAMILIES.get(family), "aux_names", ()))
        good_keys += [k for k, term in (("b_x", "x"), ("sd_g", "| g)")) if term in formula]
        key = pick(FUZZ_BAD_PRIOR_KEYS) if bad(0.15) else pick(good_keys)
        good = [p for p in FUZZ_PRIORS if (p.startswith("lkj") == str(key).startswith("cor"))
                and (key in ("Intercept", "b", "b_x") or not p.startswith(("normal", "student_t")))]
        priors[key] = pick(FUZZ_BAD_PRIORS) if bad(0.15) else pick(good)
    kwargs = dict(family=family, link=link, priors=priors,
                  na_action=pick(["drop", "omit", None]) if bad(0.2) else "error",
                  categorical=pick([["Age"], ["nope"], "Age", ["h"]]) if bad(0.2) else None)
    return formula, data, kwargs


N_FUZZ = 300  # about 2 s: construction never samples
DAMAGE = 0.6  # scales every damage probability above


def test_fuzz_construction_raises_only_glmm_input_error():
    """Random small data/formula/family/prior combinations: success or GLMMInputError, nothing else."""
    failures, outcomes = [], {"ok": 0, "GLMMInputError": 0}
    for seed in range(N_FUZZ):
        formula, data, kwargs = fuzz_case(seed)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gb.GLMM(formula, data, **kwargs)
            outcomes["ok"] += 1
        except GLMMInputError as exc:
            outcomes["GLMMInputError"] += 1
            try:
                assert_readable(str(exc))
            except AssertionError as problem:
                failures.append(f"seed {seed}: unreadable message: {problem}")
        except Exception as exc:  # noqa: BLE001 - the point of the test
            failures.append(f"seed {seed}: {type(exc).__name__}: {exc}\n    GLMM({formula!r}, "
                            f"<{type(data).__name__}>, **{kwargs!r})")
    assert not failures, f"{len(failures)} of {N_FUZZ} cases failed:\n" + "\n".join(failures)
    # the fuzz must reach both outcomes to mean anything
    assert outcomes["ok"] >= N_FUZZ // 10 and outcomes["GLMMInputError"] >= N_FUZZ // 10, outcomes
