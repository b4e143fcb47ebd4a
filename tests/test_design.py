"""Formula parsing and design building: every formula form of DESIGN.md §2."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glmm_bayes.design import check_safe, evaluate_new, make_design, parse_formula
from glmm_bayes.errors import GLMMInputError


@pytest.fixture
def df():
    rng = np.random.default_rng(1)
    n = 60
    return pd.DataFrame({
        "y": rng.normal(size=n), "count": rng.poisson(3, size=n), "x": rng.normal(size=n),
        "z": rng.normal(size=n), "treat": rng.choice(["a", "b", "c"], size=n),
        "g": np.repeat([f"g{i}" for i in range(6)], 10), "school": np.repeat(range(3), 20),
        "cls": np.tile(np.repeat(range(2), 10), 3), "h": rng.integers(0, 4, size=n),
        "sex": rng.choice(["female", "male"], size=n), "s": rng.integers(0, 5, size=n),
        "n": np.full(n, 10),
    })


def test_random_intercept_is_indices_not_dense_z(df):
    d = make_design("y ~ x + (1 | g)", df)
    (block,) = d.blocks
    assert block.label == "g" and block.columns == ["Intercept"] and block.levels == [f"g{i}" for i in range(6)]
    assert block.codes.shape == (60,) and block.codes.dtype.kind == "i"
    np.testing.assert_array_equal(block.codes, np.repeat(range(6), 10))
    assert d.X_columns == ["Intercept", "x"]


def test_correlated_and_uncorrelated_blocks(df):
    d = make_design("y ~ x + (1 + x | g)", df)
    assert d.blocks[0].correlated and d.blocks[0].columns == ["Intercept", "x"]
    np.testing.assert_allclose(d.blocks[0].Z[:, 1], df["x"])
    d = make_design("y ~ x + (1 + x || g)", df)
    assert not d.blocks[0].correlated and d.blocks[0].columns == ["Intercept", "x"]


def test_slope_only_and_several_slopes(df):
    d = make_design("y ~ x + (0 + x | g)", df)
    assert d.blocks[0].columns == ["x"]
    d = make_design("y ~ x + z + (1 + x + z | g)", df)
    assert d.blocks[0].columns == ["Intercept", "x", "z"] and d.blocks[0].correlated


def test_nested_and_crossed(df):
    d = make_design("y ~ 1 + (1 | school/cls)", df)
    assert [b.label for b in d.blocks] == ["school", "school:cls"]
    assert len(d.blocks[1].levels) == 6 and d.blocks[1].levels[0] == "0:0"
    d = make_design("y ~ 1 + (1 | g) + (1 | h)", df)
    assert [b.label for b in d.blocks] == ["g", "h"]
    assert len({b.key for b in d.blocks}) == 2


def test_categorical_slopes_interactions_and_transforms(df):
    d = make_design("y ~ treat * x + I(x ** 2) + C(h) + np.log(n) + (1 + treat | g)", df)
    assert "treat[b]" in d.X_columns and "treat[b]:x" in d.X_columns and "I(x ** 2)" in d.X_columns
    assert "C(h)[1]" in d.X_columns
    assert d.blocks[0].columns == ["Intercept", "treat[b]", "treat[c]"]


def test_string_and_declared_categorical_columns(df):
    d = make_design("y ~ sex + h", df, categorical=["h"])
    assert d.X_columns == ["Intercept", "sex[male]", "h[1]", "h[2]", "h[3]"]


def test_binomial_trials_and_event_level(df):
    d = make_design("p(s, n) ~ x", df, family="binomial")
    np.testing.assert_array_equal(d.response.trials, 10)
    d = make_design("sex[female] ~ x", df, family="bernoulli")
    np.testing.assert_array_equal(d.response.y, (df["sex"] == "female").astype(float))
    d = make_design("sex ~ x", df, family="bernoulli")  # two levels: the second is the event
    assert d.response.event_level == "male"


def test_parse_formula_forms():
    f = parse_formula("y ~ x + (1 + x || g) + (1 | a/b) + (0 + x | c:d)")
    assert f.fixed == "x"
    assert [(t.lhs, t.group, t.correlated) for t in f.groups] == [
        ("1 + x", "g", False), ("1", "a", True), ("1", "a:b", True), ("0 + x", "c:d", True)]
    assert f.groups[-1].factors == ("c", "d")


def test_new_data_uses_training_encodings(df):
    d = make_design("y ~ treat + x + (1 + x | g)", df)
    new = pd.DataFrame({"treat": ["c", "a"], "x": [0.5, -1.0], "g": ["g3", "new-doctor"]})
    nd = d.evaluate(new)
    np.testing.assert_allclose(nd.X, [[1, 0, 1, 0.5], [1, 0, 0, -1.0]])
    np.testing.assert_array_equal(nd.codes[0], [3, -1])
    two_new = d.evaluate(pd.DataFrame({"treat": ["a"] * 3, "x": [0.0] * 3, "g": ["n1", "n2", "n1"]}))
    np.testing.assert_array_equal(two_new.codes[0], [-1, -2, -1])  # each new level its own effect
    assert nd.new_levels == [["new-doctor"]]
    with pytest.raises(GLMMInputError, match="x"):
        d.evaluate(new.drop(columns="x"))


@pytest.mark.parametrize("formula", [
    'y ~ __import__("os").system("touch /tmp/pwned")',
    "y ~ os.system(x)",
    "y ~ eval(x)",
    "y ~ x + (1 | g) + exec(x)",
    "y ~ np.random.seed(x)",
    "y ~ x.__class__",
])
def test_formula_cannot_run_code(formula):
    with pytest.raises(GLMMInputError, match="not allowed"):
        check_safe(formula)


def test_allowed_transforms_pass():
    check_safe("y ~ np.log(x) + center(z) + scale(w) + I(x**2) + C(g) + log1p(q) + (1 | g)")


def test_categorical_keeps_the_users_level_order(df):
    """An unordered pandas Categorical keeps its categories' order (the first is the reference), as a factor
    does in R; plain strings are sorted."""
    d = df.assign(dose=pd.Categorical(df["treat"], categories=["c", "a", "b"]))
    design = make_design("y ~ dose + treat", d)
    assert design.X_columns == ["Intercept", "dose[a]", "dose[b]", "treat[b]", "treat[c]"]


def test_mixed_type_categorical_column(df):
    d = df.assign(mix=pd.Series([1, "a", 2.5] * 20, dtype=object))
    design = make_design("y ~ mix", d, categorical=["mix"])
    assert design.X.shape[1] == 3


def test_column_named_intercept_is_refused(df):
    with pytest.raises(GLMMInputError, match="'Intercept' has the name of the model's own intercept"):
        make_design("y ~ x + Intercept", df.assign(Intercept=3.0))


@pytest.mark.parametrize("formula, flagged", [
    ("y ~ x + c + (1 | g)", "'c'"),
    ("y ~ x + x2 + (1 | g)", "'x2'"),
    ("y ~ x + zero", "'zero'"),
    ("y ~ treat + t2", "'t2[b]', 't2[c]'"),
])
def test_unidentified_fixed_effects_warn(df, formula, flagged):
    """A column that is a linear combination of earlier ones is named in a warning (lme4 drops it)."""
    d = df.assign(c=1.0, x2=2 * df["x"], zero=0.0, t2=df["treat"])
    with pytest.warns(UserWarning, match="linear combinations") as record:
        make_design(formula, d)
    assert flagged in str(record[0].message)


def test_identified_fixed_effects_do_not_warn(df):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_design("y ~ x * treat + z + (1 + x | g)", df)
        make_design("y ~ 0 + treat + x", df)


def test_categorical_on_a_continuous_column_warns(df):
    with pytest.warns(UserWarning, match="non-whole numbers into 60 categories"):
        make_design("y ~ x", df, categorical=["x"])


def test_rank_check_on_many_rows_uses_a_subset_safely():
    """Above 20,000 rows a subset is checked first: a real dependence is still found, and a category too
    rare to appear in the subset (a zero column there) is cleared by the check on every row."""
    import warnings

    rng = np.random.default_rng(2)
    n = 30_000
    subset = np.random.default_rng(0).choice(n, 20_000, replace=False)  # the rows the check samples first
    rare_row = np.setdiff1d(np.arange(n), subset)[0]
    d = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                      "f": np.where(np.arange(n) == rare_row, "rare", rng.choice(["a", "b"], n))})
    with pytest.warns(UserWarning, match="'x2'"):
        make_design("y ~ x + x2", d.assign(x2=3 * d["x"]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_design("y ~ x + f", d)


def test_unused_categories_of_a_predictor_are_left_out_with_a_warning():
    """A pandas Categorical predictor with a category no row takes (e.g. after subsetting) gets no all-zero
    column, whose coefficient only the prior would set, but a warning naming the category, as droplevels()."""
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=60), "g": rng.choice(list("abc"), 60), "y": rng.normal(size=60)})
    df["h"] = pd.Categorical(rng.choice(["u", "v"], 60), categories=["u", "v", "w"])
    with pytest.warns(UserWarning, match=r"column 'h' has categories without rows \(w\)"):
        design = make_design("y ~ x + h + (1 | g)", df)
    assert design.X_columns == ["Intercept", "x", "h[v]"]


def test_backquoted_names_work_as_grouping_factors():
    """A column name with a space is written in backquotes, in the fixed effects (formulae) and, the same way,
    as a grouping factor; labels carry the plain name."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"my x": rng.normal(size=30), "my g": rng.choice(list("abc"), 30), "y": rng.normal(size=30)})
    design = make_design("y ~ `my x` + (1 + `my x` | `my g`) + (1 | `my g`:y2)", df.assign(y2=np.arange(30) % 2))
    assert [b.label for b in design.blocks] == ["my g", "my g:y2"]
    assert design.blocks[0].columns == ["Intercept", "my x"] and design.X_columns == ["Intercept", "my x"]
    with pytest.raises(GLMMInputError, match="must be column names"):
        make_design("y ~ 1 + (1 | my g)", df)


def test_r_style_dotted_column_names_are_columns():
    """R data names columns with dots (total.fruits): written plainly or backquoted, they are columns wherever
    a column can stand (response, p(), censored(), fixed effects, slopes, grouping factors); labels keep them."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"total.fruits": rng.poisson(3, 40), "x.a": rng.normal(size=40), "pop.id": np.repeat(list("abcd"), 10),
                       "n.trials": 10, "t.days": rng.uniform(1, 5, 40), "event.flag": rng.integers(0, 2, 40)})
    plain = make_design("total.fruits ~ x.a + (1 + x.a | pop.id)", df, family="poisson")
    quoted = make_design("`total.fruits` ~ `x.a` + (1 + `x.a` | `pop.id`)", df, family="poisson")
    for d in (plain, quoted):
        assert d.X_columns == ["Intercept", "x.a"] and d.blocks[0].label == "pop.id"
        assert d.blocks[0].columns == ["Intercept", "x.a"]
        np.testing.assert_array_equal(d.response.y, df["total.fruits"])
        np.testing.assert_array_equal(d.X[:, 1], df["x.a"])
    d = make_design("p(total.fruits, n.trials) ~ x.a + (1 | pop.id)", df, family="binomial")
    np.testing.assert_array_equal(d.response.trials, df["n.trials"])
    d = make_design("censored(t.days, event.flag) ~ x.a", df, family="weibull")
    np.testing.assert_array_equal(d.response.y, df["t.days"])
    with pytest.raises(GLMMInputError, match="'x.b', which is neither a column"):
        make_design("total.fruits ~ x.b", df, family="poisson")


def test_caret_is_a_power_as_in_r(df):
    """lme4 and brms users write I(x^2) for a square and (a + b)^2 for all interactions of two."""
    caret, stars = make_design("y ~ I(x^2) + (x + z)^2", df), make_design("y ~ I(x**2) + (x + z)**2", df)
    assert caret.X_columns == stars.X_columns == ["Intercept", "I(x ** 2)", "x", "z", "x:z"]
    np.testing.assert_allclose(caret.X, stars.X)
    np.testing.assert_allclose(caret.X[:, 1], df["x"] ** 2)


def test_spec_with_dotted_names_is_checked_against_its_data():
    """A spec file is read before its data: its dotted names wait for the columns (no 'not allowed' error for
    an R-style column), while calls are still refused at once."""
    from glmm_bayes.spec import ModelSpec

    spec = ModelSpec(name="m", formula="total.fruits ~ x.a + (1 | pop.id)", family="poisson")
    assert spec.formula.startswith("total.fruits")
    with pytest.raises(GLMMInputError, match="'os.system'"):
        ModelSpec(name="m", formula="y ~ os.system(x)", family="poisson")


def test_brms_trials_outcome_is_p(df):
    """brms writes a binomial outcome 's | trials(n)': the same design as p(s, n)."""
    brms, ours = make_design("s | trials(n) ~ x + (1 | g)", df, "binomial"), make_design("p(s, n) ~ x + (1 | g)", df, "binomial")
    np.testing.assert_array_equal(brms.response.y, ours.response.y)
    np.testing.assert_array_equal(brms.response.trials, ours.response.trials)
    assert brms.X_columns == ours.X_columns


@pytest.mark.parametrize("formula, fix", [
    ("y ~ factor(h)", "C(x)"), ("y ~ as.factor(h)", "C(x)"), ("y ~ poly(x, 2)", "I(x**2)"),
    ("cbind(s, n) ~ x", "p(s, n)"),
])
def test_r_functions_get_what_to_write_instead(df, formula, fix):
    with pytest.raises(GLMMInputError, match="an R function") as info:
        make_design(formula, df)
    assert fix in str(info.value)


def test_lambda_in_a_column_name(df):
    """Only the word lambda (a Python keyword) is refused, with the backquote fix; names containing it are columns."""
    data = df.assign(lambda_hat=df["x"], **{"lambda": df["z"]})
    assert make_design("y ~ lambda_hat + `lambda`", data).X_columns == ["Intercept", "lambda_hat", "lambda"]
    with pytest.raises(GLMMInputError, match="backquotes"):
        make_design("y ~ lambda", data)


def test_bernoulli_on_a_many_level_outcome_points_to_level_and_categorical(df):
    with pytest.raises(GLMMInputError, match=r"treat\[c\] ~ .*family 'categorical'"):
        make_design("treat ~ x", df, "bernoulli")


def test_levels_of_combined_grouping_factors_never_share_a_name():
    """(1 | a:b) levels are named 'a:b' as in lme4, with ':' inside a value escaped: ('x_1', '2') and
    ('x', '1_2') were both 'x_1_2', so predictions for one took the other's effect."""
    df = pd.DataFrame({"a": ["x_1", "x", "p:q", "p"] * 5, "b": ["2", "1_2", "r", "q:r"] * 5,
                       "y": np.arange(20.0)})
    design = make_design("y ~ 1 + (1 | a:b)", df)
    levels = design.blocks[0].levels
    assert len(set(levels)) == 4 and "x_1:2" in levels and "x:1_2" in levels
    new = evaluate_new(design, df.iloc[:4])
    np.testing.assert_array_equal(new.codes[0], design.blocks[0].codes[:4])
    assert new.new_levels == [[]]


def test_two_level_text_outcome_models_its_second_level():
    """As glmer: the levels sorted (no/yes -> yes), or a pandas Categorical's own order (R's factor levels)."""
    y = ["no", "yes", "yes", "no"] * 5
    df = pd.DataFrame({"y": y, "x": np.arange(20.0)})
    d = make_design("y ~ x", df, "bernoulli")
    assert d.response.event_level == "yes" and d.response.y.tolist() == [v == "yes" for v in y]
    d = make_design("y ~ x", df.assign(y=pd.Categorical(y, categories=["yes", "no"])), "bernoulli")
    assert d.response.event_level == "no" and d.response.y.tolist() == [v == "no" for v in y]
