"""Property: for any data frame, formula, family, link and priors, ``GLMM(...)`` builds or says why.

Hypothesis draws small data frames (numeric, integer, categorical, boolean, datetime
columns; NaN, inf, constant and empty columns; odd and duplicate column names; no
rows) and formulas over their columns, some valid and some damaged (random tokens,
group terms ``(a | b)`` and ``(a || b)``, unknown and forbidden functions,
unbalanced parentheses, missing or doubled ``~``), with random family and link
names and prior dicts. Whatever it draws, ``gb.GLMM(...)`` must either build (and
then ``.pymc_model`` must build too) or raise ``GLMMInputError`` — never another
exception. ``derandomize=True``: the same examples on every run.

Bugs it has found are listed in ``KNOWN_BUGS`` with a minimal example each (an
``xfail(strict=True)`` test); examples hitting them are rejected by the property.
"""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PLAIN_NAMES = ["y", "x", "z", "g", "h", "n", "s", "w2", "Age", "group"]
ODD_NAMES = ["my col", "x.y", "1x", "ä", "", "class", "__import__", "y~", "a|b", "(x)", "Intercept", "C", "p",
             "x[1]", "np", "a-b", "True", "lambda"]
KINDS = ["float", "int", "count", "binary", "category", "bool", "datetime", "constant", "empty", "nan_some",
         "inf_some", "text_numbers", "mixed"]


# ---------------------------------------------------------------- data frames
@st.composite
def columns(draw, n: int, kind: str) -> object:
    ints = st.integers(-5, 5)
    floats = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
    if kind == "float":
        return draw(st.lists(floats, min_size=n, max_size=n))
    if kind == "int":
        return np.array(draw(st.lists(ints, min_size=n, max_size=n)), dtype=np.int64)
    if kind == "count":
        return np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=np.int64)
    if kind == "binary":
        return np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.int64)
    if kind == "category":
        return draw(st.lists(st.sampled_from(["a", "b", "c", "a b", "1"]), min_size=n, max_size=n))
    if kind == "bool":
        return draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if kind == "datetime":
        return pd.date_range("2020-01-01", periods=n, freq="D")
    if kind == "constant":
        return [draw(st.sampled_from([0, 1, 2.5, "k"]))] * n
    if kind == "empty":
        return [draw(st.sampled_from([np.nan, None]))] * n
    if kind == "nan_some":
        return draw(st.lists(st.one_of(floats, st.just(np.nan)), min_size=n, max_size=n))
    if kind == "inf_some":
        return draw(st.lists(st.one_of(floats, st.sampled_from([np.inf, -np.inf])), min_size=n, max_size=n))
    if kind == "text_numbers":
        return [str(v) for v in draw(st.lists(floats, min_size=n, max_size=n))]
    # mixed: numbers and text in one object column
    return draw(st.lists(st.one_of(ints, st.sampled_from(["a", "b"]), st.none()), min_size=n, max_size=n))


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.sampled_from([0, 1, 2, 3, 6, 12, 12, 12]))
    k = draw(st.integers(1, 6))
    names = [draw(st.sampled_from(PLAIN_NAMES) if draw(st.integers(0, 4)) else st.sampled_from(ODD_NAMES))
             for _ in range(k)]
    data = [pd.Series(draw(columns(n, draw(st.sampled_from(KINDS)))), dtype=None) for _ in range(k)]
    df = pd.concat(data, axis=1, ignore_index=True) if data else pd.DataFrame()
    df.columns = names  # duplicates allowed on purpose
    return df


# ---------------------------------------------------------------- formulas
TOKENS = ["+", "-", "*", ":", "/", "|", "||", "~", "(", ")", "1", "0", "-1", "**", "[", "]", ",", "np.", "..",
          "'", '"', "`", "x", "\\", "@", "#", "$", "{", "}", "@x", ";"]
GOOD_FUNCS = ["log", "np.log", "C", "I", "scale", "center", "standardize", "sqrt", "exp", "abs", "log1p"]
BAD_FUNCS = ["foo", "eval", "exec", "os.system", "__import__", "open", "np.random.seed", "getattr", "lambda x: x",
             "print", "pd.read_csv"]


@st.composite
def terms(draw, names: list[str]) -> str:
    name = draw(st.sampled_from(names))
    other = draw(st.sampled_from(names))
    choice = draw(st.integers(0, 12))
    if choice <= 4:
        return name
    if choice == 5:
        return f"{draw(st.sampled_from(GOOD_FUNCS))}({name})"
    if choice == 6:
        return f"{draw(st.sampled_from(BAD_FUNCS))}({name})"
    if choice == 7:
        return f"{name}{draw(st.sampled_from([':', '*', '/']))}{other}"
    if choice == 8:
        return f"I({name} ** 2)"
    if choice == 9:
        return draw(st.sampled_from(["1", "0", "-1"]))
    if choice == 10:
        return f"C({name})"
    return draw(st.text(st.sampled_from("abxyz019_+-*:|()~ .[]"), min_size=1, max_size=6))


@st.composite
def group_terms(draw, names: list[str]) -> str:
    lhs = draw(st.sampled_from(["1", "0 + {a}", "1 + {a}", "{a}", "", "1 + {a} + {b}", "{a}:{b}"]))
    lhs = lhs.format(a=draw(st.sampled_from(names)), b=draw(st.sampled_from(names)))
    bar = draw(st.sampled_from(["|", "|", "||", "| |", "|||"]))
    g = draw(st.sampled_from(names + ["", "{a}/{b}", "{a}:{b}", "{a} + {b}"]))
    g = g.format(a=draw(st.sampled_from(names)), b=draw(st.sampled_from(names)))
    return f"({lhs} {bar} {g})"


@st.composite
def responses(draw, names: list[str]) -> str:
    a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
    return draw(st.sampled_from([a, a, a, f"p({a}, {b})", f"censored({a}, {b})", f"{a}[a]", f"{a}[1]",
                                 f"log({a})", f"foo({a})", "", f"{a} + {b}"]))


@st.composite
def formulas(draw, names: list[str]) -> str:
    names = [n for n in names if isinstance(n, str)] or ["y"]
    lhs = draw(responses(names))
    rhs = [draw(terms(names)) for _ in range(draw(st.integers(0, 3)))]
    rhs += [draw(group_terms(names)) for _ in range(draw(st.integers(0, 2)))]
    formula = f"{lhs} ~ {' + '.join(rhs) or '1'}"
    damage = draw(st.integers(0, 9))
    if damage == 0:  # random tokens inserted somewhere
        at = draw(st.integers(0, len(formula)))
        formula = formula[:at] + " ".join(draw(st.lists(st.sampled_from(TOKENS), min_size=1, max_size=3))) \
            + formula[at:]
    elif damage == 1:  # unbalanced parentheses
        formula += draw(st.sampled_from(["(", ")", "((", " + (1 | g"]))
    elif damage == 2:  # no or two tildes
        formula = draw(st.sampled_from([formula.replace("~", " "), formula + " ~ x"]))
    elif damage == 3:  # anything at all
        formula = draw(st.one_of(st.text(max_size=25), st.none(), st.integers(), st.just("y ~ ")))
    return formula


# ---------------------------------------------------------------- family, link, priors
FAMILY_NAMES = sorted(gb.FAMILIES)
ALL_LINKS = sorted({link for fam in gb.FAMILIES.values() for link in fam.links})
PRIOR_KEYS = ["Intercept", "b", "sd", "cor", "sigma", "alpha", "shape", "phi", "nu", "zi", "hu", "cutpoints"]
PRIOR_STRINGS = ["normal(0, 1)", "normal(0, 2.5)", "student_t(3, 0, 2.5)", "half_normal(1)", "exponential(1)",
                 "gamma(2, 0.1)", "lkj(2)", "half_student_t(3, 2.5)", "half_cauchy(1)", "uniform(0, 1)",
                 "beta(2, 2)", "lognormal(0, 1)", "cauchy(0, 1)", "inverse_gamma(2, 1)", "logistic(0, 1)"]


@st.composite
def families(draw) -> tuple[object, object]:
    family = draw(st.one_of(st.sampled_from(FAMILY_NAMES), st.sampled_from(FAMILY_NAMES),
                            st.sampled_from(["poison", "Gaussian", "", "nb", "normal"]), st.none(), st.integers()))
    link = draw(st.one_of(st.none(), st.none(), st.sampled_from(ALL_LINKS),
                          st.sampled_from(["lgo", "", "Logit"]), st.integers()))
    return family, link


@st.composite
def prior_dicts(draw, names: list[str]):
    if draw(st.integers(0, 9)) == 0:
        return draw(st.one_of(st.text(max_size=10), st.lists(st.text(max_size=5), max_size=2), st.integers()))
    names = [n for n in names if isinstance(n, str)]
    keys = st.one_of(st.sampled_from(PRIOR_KEYS), st.sampled_from([f"b_{n}" for n in names] or ["b_x"]),
                     st.sampled_from([f"sd_{n}" for n in names] or ["sd_g"]),
                     st.sampled_from([f"cor_{n}" for n in names] or ["cor_g"]),
                     st.text(max_size=8), st.integers(), st.none())
    values = st.one_of(st.sampled_from(PRIOR_STRINGS), st.sampled_from(PRIOR_STRINGS),
                       st.text(st.sampled_from("normal_lkj(0123456789.,-e )"), max_size=18),
                       st.floats(), st.none(), st.lists(st.sampled_from(PRIOR_STRINGS), max_size=1))
    return draw(st.dictionaries(keys, values, max_size=3))


# a response that suits each family in the sane frame (below)
RESPONSES = {"gaussian": ["y"], "student_t": ["y"], "bernoulli": ["yb", "h[b]"], "binomial": ["p(cnt, tot)"],
             "beta_binomial": ["p(cnt, tot)"], "poisson": ["cnt"], "negativebinomial": ["cnt"],
             "zero_inflated_poisson": ["cnt"], "zero_inflated_negativebinomial": ["cnt"], "hurdle_poisson": ["cnt"],
             "hurdle_negativebinomial": ["cnt"], "gamma": ["pos"], "lognormal": ["pos", "censored(pos, ev)"],
             "weibull": ["pos", "censored(pos, ev)"], "exponential": ["pos", "censored(pos, ev)"],
             "beta": ["prop"], "cumulative": ["rating"], "categorical": ["h", "rating", "x2"]}
SANE_PREDICTORS = ["x", "x2", "h", "C(x2)", "log(pos)", "scale(x)", "x:h", "x*h", "I(x ** 2)", "0", "center(x)"]
SANE_GROUPS = ["(1 | g)", "(1 + x | g)", "(x || g)", "(0 + x | g)", "(1 | g/h)", "(1 | g) + (1 | h)", "(1 | g:h)"]


@st.composite
def sane_frames(draw) -> pd.DataFrame:
    """12 rows with an outcome for every family, predictors and two grouping factors, plus random extras."""
    n = 12
    unit = st.floats(0.05, 0.95)
    floats = st.floats(-3, 3, allow_nan=False, allow_infinity=False)
    cnt = np.array(draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)))
    df = pd.DataFrame({
        "y": draw(st.lists(floats, min_size=n, max_size=n)),
        "x": draw(st.lists(floats, min_size=n, max_size=n)),
        "x2": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
        "cnt": cnt,
        "tot": cnt + np.array(draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))),
        "yb": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
        "pos": draw(st.lists(st.floats(0.1, 50), min_size=n, max_size=n)),
        "ev": draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)),
        "prop": draw(st.lists(unit, min_size=n, max_size=n)),
        "rating": np.arange(n) % 3 + 1,
        "g": [f"g{i % 3}" for i in range(n)],
        "h": ["a", "b"] * (n // 2),
    })
    for _ in range(draw(st.integers(0, 2))):  # extra columns of any kind, maybe replacing one of the above
        name = draw(st.sampled_from(PLAIN_NAMES + ODD_NAMES + list(df.columns)))
        df[name] = pd.Series(draw(columns(n, draw(st.sampled_from(KINDS)))))
    return df


@st.composite
def sane_models(draw):
    """A sensible model on the sane frame, sometimes with one part damaged."""
    df = draw(sane_frames())
    family = draw(st.sampled_from(FAMILY_NAMES))
    link = draw(st.one_of(st.none(), st.none(), st.sampled_from(gb.FAMILIES[family].links)))
    rhs = draw(st.lists(st.sampled_from(SANE_PREDICTORS), max_size=2))
    rhs += draw(st.lists(st.sampled_from(SANE_GROUPS), max_size=1))
    formula = f"{draw(st.sampled_from(RESPONSES[family]))} ~ {' + '.join(rhs) or '1'}"
    keys = ["Intercept", "b", "sd", "cor", *gb.FAMILIES[family].aux_names]
    priors = draw(st.dictionaries(st.sampled_from(keys), st.sampled_from(PRIOR_STRINGS), max_size=2))
    kwargs = dict(family=family, link=link, priors=priors, categorical=None)
    damage = draw(st.integers(0, 9))
    names = list(df.columns)
    if damage == 0:
        formula = draw(formulas(names))
    elif damage == 1:
        kwargs["family"], kwargs["link"] = draw(families())
    elif damage == 2:
        kwargs["priors"] = draw(prior_dicts(names))
    elif damage == 3:
        kwargs["categorical"] = draw(st.lists(st.sampled_from(names + ["nope"]), max_size=2))
    elif damage == 4:  # a few cells made NaN / inf
        col = draw(st.sampled_from(names))
        if not isinstance(df[col], pd.Series):  # a duplicated name
            col = "x"
        numeric = pd.api.types.is_numeric_dtype(df[col]) and not pd.api.types.is_bool_dtype(df[col])
        values = df[col].astype(float if numeric else object)
        values.iloc[draw(st.integers(0, len(df) - 1))] = draw(st.sampled_from([np.nan, np.inf, None]))
        df[col] = values
    elif damage == 5:
        df = df.iloc[: draw(st.integers(0, 3))]
    return formula, df, kwargs


@st.composite
def random_models(draw):
    """Anything: a random frame, a formula over its columns (maybe damaged), random family/link/priors."""
    df = draw(frames())
    names = list(df.columns)
    formula = draw(formulas(names))
    family, link = draw(families())
    priors = draw(prior_dicts(names))
    categorical = draw(st.one_of(st.none(), st.none(), st.lists(st.sampled_from(names + ["nope"]), max_size=2)))
    return formula, df, dict(family=family, link=link, priors=priors, categorical=categorical)


def models():
    return st.one_of(sane_models(), random_models())


# ---------------------------------------------------------------- known bugs
# Found by this property; each has a minimal example below, marked xfail(strict=True), so a fix
# shows up as XPASS: then delete its entry here and its xfail example. An example matching an
# entry (exception type, the glmm_bayes function it escaped from, message) is rejected by the
# property instead of failing it, so the property keeps guarding everything else.
# Bugs the property found, now fixed (each example below is a regression test): (1 | g:g) raised
# pandas' ValueError; 'y ~ h/x' formulae's ValueError; numbers as terms ('y+2 ~ x', 'y ~ x + 2',
# '2 ~ x', '(1 + 2 | g)') TypeErrors. New ones go in KNOWN_BUGS as
# (exception type, glmm_bayes function in the traceback, message pattern, minimal example, reason).
KNOWN_BUGS: list = []
FIXED_BUGS = [("y ~ x + (1 | g:g)", {}), ("y ~ h/x", {}), ("y+2 ~ x", {}), ("y ~ x + 2", {}), ("2 ~ x", {}),
              ("y ~ 2", {}), ("y ~ x + (1 + 2 | g)", {})]


def glmm_functions(exc: BaseException) -> set[str]:
    """Names of the glmm_bayes functions the exception passed through."""
    names, tb = set(), exc.__traceback__
    while tb is not None:
        if "glmm_bayes" in tb.tb_frame.f_code.co_filename:
            names.add(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return names


def known_bug(exc: BaseException) -> bool:
    return any(isinstance(exc, kind) and where in glmm_functions(exc) and re.search(pattern, str(exc))
               for kind, where, pattern, _, _ in KNOWN_BUGS)


# ---------------------------------------------------------------- the property
def build(formula, df, kwargs) -> str:
    """Build the model and its PyMC graph; return "built" or "refused" (GLMMInputError)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = gb.GLMM(formula, df, **kwargs)
        except GLMMInputError as exc:
            assert str(exc).strip(), "empty error message"
            return "refused"
        model.pymc_model
    return "built"


OUTCOMES: dict[str, int] = {}


@pytest.mark.filterwarnings("ignore:The recursion limit will not be reset")  # PyTensor raises it; harmless
@SETTINGS
@given(models())
def test_glmm_builds_or_raises_glmm_input_error(model):
    formula, df, kwargs = model
    try:
        outcome = build(formula, df, kwargs)  # any other exception fails the test (and Hypothesis shrinks it)
    except Exception as exc:
        if known_bug(exc):
            reject()  # reported, with a minimal example below
        raise
    OUTCOMES[outcome] = OUTCOMES.get(outcome, 0) + 1


def test_property_reaches_both_outcomes():
    """Runs after the property (same module, in order): the strategies must reach both outcomes."""
    if not OUTCOMES:
        pytest.skip("the property test did not run in this process")
    assert OUTCOMES.get("built", 0) >= 5 and OUTCOMES.get("refused", 0) >= 50, OUTCOMES


@pytest.mark.parametrize("formula, kwargs", [
    *[pytest.param(*example, id=example[0], marks=pytest.mark.xfail(strict=True, raises=kind, reason=reason))
      for kind, _, _, example, reason in KNOWN_BUGS],
    *[pytest.param(*example, id=example[0]) for example in FIXED_BUGS]])
def test_known_bug_minimal_example(formula, kwargs):
    """Minimal examples found by the property (on the catalogue's tiny frame): build or raise GLMMInputError."""
    from bad_input_catalogue import make_data

    build(formula, make_data(), kwargs)
