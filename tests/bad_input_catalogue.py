"""The bad-input catalogue: every user mistake we know of, what it does, and the message it gets.

``CASES`` is a list of :class:`Case` rows: an id, an area (data, formula, family/link,
priors, spec files, CLI arguments, prediction data, sampler options), what the user
did, a zero-argument callable that makes the bad call, and a fragment the message
must contain. ``tests/test_bad_input_catalogue.py`` checks every row raises
``GLMMInputError`` with a readable message, and that ``docs/bad_inputs.md`` is what
this module generates:

    .venv/bin/python tests/bad_input_catalogue.py > docs/bad_inputs.md

The data are one tiny frame (:func:`make_data`, the columns of ``tests/test_bad_input.py``'s
frame, whose cases these rows repeat and extend; kept here so the document changes only
when a message does). Cases never sample, except the prediction rows and one sampler
row, which share one tiny cached fit (:func:`tiny_fit`: 100 draws, 100 tuning steps,
one chain). CLI rows run
``glmm_bayes.cli.main([...])`` in-process; an exit code of 2 is turned into a
:class:`CLIUserError` (a ``GLMMInputError``) carrying stderr, anything else into an
``AssertionError``. Files the rows need (specs, CSVs) live in a temporary folder whose
path is replaced by ``<dir>`` in messages (:func:`run_case`), so the document is
the same on every machine.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import io
import shutil
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError
from glmm_bayes.spec import ModelSpec

AREAS = ("data", "formula", "family/link", "priors", "spec files", "CLI arguments", "prediction data",
         "sampler options")
MESSAGE_WIDTH = 300  # characters of a message shown in docs/bad_inputs.md
N_ROWS, N_GROUPS = 40, 5
GOOD_SPEC = '''
name = "m"
formula = "y ~ x + (1 | g)"
family = "gaussian"
'''


@dataclass(frozen=True)
class Case:
    """One catalogue row. ``call`` makes the bad call; ``fragment`` must be in its message."""

    id: str
    area: str
    did: str
    call: Callable[[], object]
    fragment: str
    xfail: str | None = None  # reason, for a known library bug (the test is then xfail(strict=True))


class CLIUserError(GLMMInputError):
    """A CLI run that exited with code 2: the message is what it printed on stderr."""

    def __init__(self, stderr: str, exit_code: int):
        super().__init__(stderr.strip())
        self.stderr = stderr
        self.exit_code = exit_code


# ---------------------------------------------------------------- helpers
def make_data(seed: int = 0, n: int = N_ROWS, groups: int = N_GROUPS) -> pd.DataFrame:
    """A small frame with an outcome for the common families and a grouping factor ``g``."""
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
    })


def with_missing(column: str = "x", rows=(1, 7, 20)) -> pd.DataFrame:
    df = make_data()
    df.loc[list(rows), column] = np.nan
    return df


@functools.cache
def workdir() -> Path:
    """A temporary folder with a good CSV, a good spec and a few broken ones (made once per process)."""
    path = Path(tempfile.mkdtemp(prefix="glmm_bad_inputs_"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    make_data().to_csv(path / "toy.csv", index=False)
    good = GOOD_SPEC + 'data = "toy.csv"\n'
    (path / "good.toml").write_text(good)
    (path / "bad_column.toml").write_text(good.replace("y ~ x", "y ~ z"))
    (path / "no_data_file.toml").write_text(good.replace("toy.csv", "missing.csv"))
    (path / "no_data.toml").write_text(GOOD_SPEC)
    (path / "not_a_csv.csv").write_bytes(b"\x00\x01\x02 \xff\xfe binary")
    (path / "bad_csv.toml").write_text(good.replace("toy.csv", "not_a_csv.csv"))
    (path / "bad_toml.toml").write_text('name = "m"\nformula = "y ~ x\n')
    (path / "not_a_fit.nc").write_text("this is not NetCDF\n")
    (path / "utf16.toml").write_bytes(good.encode("utf-16"))
    (path / "data_dir.toml").write_text(good.replace("toy.csv", "."))
    make_data().to_csv(path / "tabs.csv", index=False, sep="\t")
    (path / "tabs.toml").write_text(good.replace("toy.csv", "tabs.csv"))
    (path / "other_outcome.toml").write_text(good.replace('name = "m"', 'name = "m2"').replace("y ~ x", "Age ~ x"))
    return path


def glmm(formula, data=None, **kwargs) -> Callable[[], object]:
    """A call building ``gb.GLMM(formula, data, **kwargs)`` (``data`` defaults to the tiny frame)."""
    def call():
        frame = make_data() if data is None else (data() if callable(data) else data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return gb.GLMM(formula, frame, **kwargs)
    return call


def changed(**columns) -> Callable[[], pd.DataFrame]:
    """The tiny frame with some columns replaced: value, or a function of the frame."""
    def frame():
        df = make_data()
        for name, value in columns.items():
            df[name] = value(df) if callable(value) else value
        return df
    return frame


def at(column: str, row: int, value, astype=None) -> Callable[[], pd.DataFrame]:
    """The tiny frame with one cell changed."""
    def frame():
        df = make_data()
        if astype is not None:
            df[column] = df[column].astype(astype)
        df.loc[row, column] = value
        return df
    return frame


def spec_text(text: str) -> Callable[[], object]:
    return lambda: ModelSpec.from_toml_string(text)


def spec_file(name: str, load_data: bool = False) -> Callable[[], object]:
    def call():
        spec = ModelSpec.load(workdir() / name)
        return spec.load_data() if load_data else spec
    return call


def cli(*args: str) -> Callable[[], object]:
    """Run the CLI in-process; exit code 2 → :class:`CLIUserError` with stderr, others → AssertionError."""
    def call():
        from glmm_bayes.cli import main

        argv = [a.format(dir=workdir()) for a in args]
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
                contextlib.chdir(workdir()):  # a run that wrongly succeeds writes out/ there, not here
            warnings.simplefilter("ignore")
            code = main(argv)
        if code == 2:
            raise CLIUserError(err.getvalue(), code)
        raise AssertionError(f"glmm-bayes {' '.join(argv)} exited with {code}, expected 2; stderr: "
                             f"{err.getvalue()[-2000:]}")
    return call


SMALL_FORMULA = "y ~ x + (1 | g)"


@functools.cache
def small_model():
    """A model that is built (no PyMC graph yet) for the sampler-option rows."""
    return gb.GLMM(SMALL_FORMULA, make_data())


def fit_with(**kwargs) -> Callable[[], object]:
    return lambda: small_model().fit(progressbar=False, **kwargs)


@functools.cache
def tiny_fit():
    """The one fit the prediction rows share: ``y ~ x + h + (1 | g)``, 100 draws, 1 chain (a few seconds)."""
    model = gb.GLMM("y ~ x + h + (1 | g)", make_data())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(draws=100, tune=100, chains=1, seed=1, progressbar=False, warn=False)


def new_rows(**columns) -> pd.DataFrame:
    """Four new rows for prediction (levels seen in fitting unless changed)."""
    df = pd.DataFrame({"x": [0.0, 0.5, -0.5, 1.0], "h": ["a", "b", "a", "b"], "g": ["g0", "g1", "g2", "g3"]})
    for name, value in columns.items():
        if value is None:
            df = df.drop(columns=name)
        else:
            df[name] = value
    return df


def predict(newdata=None, **kwargs) -> Callable[[], object]:
    def call():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return tiny_fit().predict(newdata() if callable(newdata) else newdata, **kwargs)
    return call


def duplicate_x():
    df = make_data()
    return pd.concat([df, df[["x"]] * 2], axis=1)


def missing_g():
    df = make_data()
    df.loc[[0, 5], "g"] = None
    return df


# ---------------------------------------------------------------- the catalogue
CASES: list[Case] = [
    # ------------------------------------------------------------ data
    Case("data-missing-column", "data", "`y ~ age + (1 | g)` where the column is `Age`",
         glmm("y ~ age + (1 | g)"), "did you mean 'Age'"),
    Case("data-missing-response", "data", "response `outcome` is not a column",
         glmm("outcome ~ x + (1 | g)"), "'outcome'"),
    Case("data-missing-group", "data", "grouping factor `grp` is not a column",
         glmm("y ~ x + (1 | grp)"), "'grp'"),
    Case("data-missing-categorical", "data", "`categorical=['hh']`, no such column",
         glmm(SMALL_FORMULA, categorical=["hh"]), "'hh'"),
    Case("data-categorical-string", "data", "`categorical='h'` (a string, not a list)",
         glmm(SMALL_FORMULA, categorical="h"), "list of column names"),
    Case("data-nan-predictor", "data", "NaN in 3 rows of predictor `x`",
         glmm(SMALL_FORMULA, data=lambda: with_missing("x")), "na_action"),
    Case("data-nan-group", "data", "missing values in grouping factor `g`",
         glmm(SMALL_FORMULA, data=missing_g), "'g'"),
    Case("data-na-action-unknown", "data", "`na_action='omit'`",
         glmm(SMALL_FORMULA, data=lambda: with_missing("x"), na_action="omit"), "'drop'"),
    Case("data-na-drop-all", "data", "`na_action='drop'` when every row has a NaN",
         glmm(SMALL_FORMULA, data=changed(x=np.nan), na_action="drop"), "missing"),
    Case("data-inf-response", "data", "`inf` in the response",
         glmm(SMALL_FORMULA, data=at("y", 0, np.inf)), "non-finite"),
    Case("data-inf-predictor", "data", "`inf` in predictor `x`",
         glmm(SMALL_FORMULA, data=at("x", 3, np.inf)), "'x'"),
    Case("data-bernoulli-not-binary", "data", "bernoulli outcome with a 2",
         glmm("yb ~ x + (1 | g)", data=at("yb", 3, 2), family="bernoulli"), "0/1"),
    Case("data-poisson-negative", "data", "poisson outcome with a -1",
         glmm("count ~ x + (1 | g)", data=at("count", 4, -1), family="poisson"), "non-negative"),
    Case("data-poisson-fraction", "data", "poisson outcome 2.5",
         glmm("count ~ x + (1 | g)", data=at("count", 6, 2.5, astype=float), family="poisson"), "whole"),
    Case("data-negbin-fraction", "data", "negative-binomial outcome 2.5",
         glmm("count ~ x + (1 | g)", data=at("count", 6, 2.5, astype=float), family="negativebinomial"),
         "whole"),
    Case("data-gamma-nonpositive", "data", "gamma outcome with a 0",
         glmm("Age ~ x + (1 | g)", data=at("Age", 2, 0), family="gamma"), "'Age'"),
    Case("data-binomial-s-gt-n", "data", "binomial successes above trials",
         glmm("p(s, n) ~ x + (1 | g)", data=lambda: make_data().assign(s=lambda d: d["n"] + 3),
              family="binomial"), "trials"),
    Case("data-binomial-no-trials", "data", "`family='binomial'` with a 0/1 outcome and no trials",
         glmm("yb ~ x + (1 | g)", family="binomial"), "p(successes, trials)"),
    Case("data-binomial-zero-trials", "data", "binomial rows with 0 trials",
         glmm("p(s, n) ~ x + (1 | g)", data=at("n", 3, 0), family="binomial"), "drop those rows"),
    Case("data-intercept-column", "data", "a predictor column named `Intercept`",
         glmm("y ~ x + Intercept + (1 | g)", data=changed(Intercept=3.0)), "rename it"),
    Case("data-response-string", "data", "gaussian outcome that is a text column",
         glmm("h ~ x + (1 | g)"), "'h'"),
    Case("data-response-text", "data", "response `y` stored as text like '1.2'",
         glmm(SMALL_FORMULA, data=changed(y=lambda d: d["y"].round(1).astype(str))), "'y'"),
    Case("data-one-level-group", "data", "grouping factor with one level",
         glmm(SMALL_FORMULA, data=changed(g="only")), "one level"),
    Case("data-duplicate-columns", "data", "two columns called `x`",
         glmm(SMALL_FORMULA, data=duplicate_x), "more than once"),
    Case("data-datetime", "data", "datetime predictor `t`",
         glmm("y ~ t + (1 | g)", data=changed(t=lambda d: pd.date_range("2020-01-01", periods=len(d)))),
         "datetime"),
    Case("data-empty", "data", "a data frame with no rows",
         glmm(SMALL_FORMULA, data=lambda: make_data().iloc[:0]), "no rows"),
    Case("data-dict", "data", "a dict instead of a DataFrame",
         glmm(SMALL_FORMULA, data=lambda: make_data().to_dict(orient="list")), "DataFrame"),
    Case("data-constant-bernoulli", "data", "bernoulli outcome that is always 1",
         glmm("yb ~ x + (1 | g)", data=changed(yb=1), family="bernoulli"), "constant"),
    Case("data-constant-gaussian", "data", "gaussian outcome that is always 5",
         glmm(SMALL_FORMULA, data=changed(y=5.0)), "constant"),
    Case("data-level-absent", "data", "`h[c] ~ ...` where `h` has no level `c`",
         glmm("h[c] ~ x + (1 | g)", family="bernoulli"), "'c'"),
    # ------------------------------------------------------------ formula
    Case("formula-offset-log-zero", "formula", "`offset(np.log(n0))` where a row's exposure `n0` is 0",
         glmm("count ~ x + offset(np.log(n0))", family="poisson", data=lambda: make_data().assign(
             n0=lambda d: np.where(d.index == 2, 0, d["n"]))), "offset(np.log(n0))"),
    Case("formula-response-as-predictor", "formula", "`y ~ y + x` (the response on both sides)",
         glmm("y ~ y + x + (1 | g)"), "is the response and also a predictor"),
    Case("formula-no-tilde", "formula", "`y x + (1 | g)` (no `~`)", glmm("y x + (1 | g)"), "~"),
    Case("formula-none", "formula", "`formula=None`", glmm(None), "formula"),
    Case("formula-no-response", "formula", "` ~ x + (1 | g)`", glmm(" ~ x + (1 | g)"), "response"),
    Case("formula-unbalanced", "formula", "`y ~ x + (1 | g` (unbalanced parentheses)",
         glmm("y ~ x + (1 | g"), "parenthes"),
    Case("formula-empty-group", "formula", "`(1 | )` (no grouping factor)", glmm("y ~ x + (1 | )"), "group"),
    Case("formula-no-parentheses", "formula", "`y ~ x | g` (parentheses forgotten)",
         glmm("y ~ x | g"), "(x | g)"),
    Case("formula-two-tildes", "formula", "`y ~ x ~ g`", glmm("y ~ x ~ g"), "~"),
    Case("formula-dangling-operator", "formula", "`y ~ x + * + (1 | g)`", glmm("y ~ x + * + (1 | g)"), "x + *"),
    Case("formula-import", "formula", "`y ~ __import__(\"os\").system(\"echo hi\")`",
         glmm('y ~ __import__("os").system("echo hi")'), "not allowed"),
    Case("formula-os-system", "formula", "`y ~ os.system(x)`", glmm("y ~ os.system(x)"), "'os.system'"),
    Case("formula-eval", "formula", "`y ~ eval(x)`", glmm("y ~ eval(x)"), "'eval'"),
    Case("formula-lambda", "formula", "`y ~ x + (lambda: 1)()`", glmm("y ~ x + (lambda: 1)()"), "'lambda'"),
    Case("formula-unknown-function", "formula", "`y ~ foo(x)` (not an allowed function)",
         glmm("y ~ foo(x) + (1 | g)"), "'foo'"),
    Case("formula-r-factor", "formula", "`y ~ factor(g)` (R's factor)", glmm("y ~ factor(g)"), "C(x)"),
    Case("formula-r-cbind", "formula", "`cbind(s, n) ~ x` (lme4's binomial outcome)",
         glmm("cbind(s, n) ~ x", family="binomial"), "p(s, n)"),
    Case("formula-dotted-name-not-a-column", "formula", "`y ~ Sepal.Width` where the data have `Sepal.Length`",
         glmm("y ~ Sepal.Width", data=lambda: make_data().rename(columns={"x": "Sepal.Length"})),
         "'Sepal.Width'"),
    Case("formula-same-slope-twice", "formula", "`(x | g) + (x | g)`",
         glmm("y ~ x + (x | g) + (x | g)"), "two group-level terms"),
    Case("formula-censored-bernoulli", "formula", "`censored(y, yb) ~ x` with `family='bernoulli'`",
         glmm("censored(y, yb) ~ x", family="bernoulli"), "censored"),
    Case("formula-categorical-two-columns", "formula", "`p(s, n) ~ x` with `family='categorical'`",
         glmm("p(s, n) ~ x", family="categorical"), "one column"),
    Case("data-categorical-unused-category", "data",
         "categorical response with a category that has no rows (pandas Categorical)",
         glmm("h ~ x + (1 | g)", family="categorical",
              data=lambda: make_data().assign(h=lambda d: pd.Categorical(d["h"], categories=["a", "b", "c"]))),
         "no observations: c"),
    Case("predict-probs-gaussian", "prediction data", "`kind='probs'` for a gaussian model",
         lambda: tiny_fit().predict(kind="probs"), "ordinal and categorical"),
    # ------------------------------------------------------------ family / link
    Case("family-trials-without-binomial", "family/link", "`p(s, n) ~ x` with `family='poisson'`",
         glmm("p(s, n) ~ x + (1 | g)", family="poisson"), "write 's ~ ...'"),
    Case("family-unknown", "family/link", "`family='poison'`",
         glmm("count ~ x + (1 | g)", family="poison"), "'poison'"),
    Case("family-not-a-string", "family/link", "`family=3`", glmm(SMALL_FORMULA, family=3), "family"),
    Case("link-wrong-family", "family/link", "`family='poisson', link='logit'`",
         glmm("count ~ x + (1 | g)", family="poisson", link="logit"), "'logit'"),
    Case("link-unknown", "family/link", "`link='lgo'`", glmm(SMALL_FORMULA, link="lgo"), "'lgo'"),
    # ------------------------------------------------------------ priors
    Case("prior-malformed", "priors", "`priors={'b': 'normal(0,'}`",
         glmm(SMALL_FORMULA, priors={"b": "normal(0,"}), "normal(0, 2.5)"),
    Case("prior-negative-scale", "priors", "`priors={'b': 'normal(0, -1)'}`",
         glmm(SMALL_FORMULA, priors={"b": "normal(0, -1)"}), "sigma"),
    Case("prior-too-few-args", "priors", "`priors={'b': 'normal(0)'}`",
         glmm(SMALL_FORMULA, priors={"b": "normal(0)"}), "2 argument"),
    Case("prior-unknown-distribution", "priors", "`priors={'b': 'foo(1)'}`",
         glmm(SMALL_FORMULA, priors={"b": "foo(1)"}), "'foo'"),
    Case("prior-infinite", "priors", "`priors={'b': 'normal(0, 1e999)'}`",
         glmm(SMALL_FORMULA, priors={"b": "normal(0, 1e999)"}), "finite"),
    Case("prior-uniform-reversed", "priors", "`priors={'b': 'uniform(1, 0)'}`",
         glmm(SMALL_FORMULA, priors={"b": "uniform(1, 0)"}), "'b'"),
    Case("prior-not-a-string", "priors", "`priors={'b': 3.0}`",
         glmm(SMALL_FORMULA, priors={"b": 3.0}), "normal(0, 2.5)"),
    Case("priors-not-a-dict", "priors", "`priors='normal(0, 1)'`",
         glmm(SMALL_FORMULA, priors="normal(0, 1)"), "dict"),
    Case("prior-unknown-group-key", "priors", "`priors={'sd_grp': ...}` (group is `g`)",
         glmm(SMALL_FORMULA, priors={"sd_grp": "half_normal(1)"}), "sd_g"),
    Case("prior-key-typo", "priors", "`priors={'sigam': ...}`",
         glmm(SMALL_FORMULA, priors={"sigam": "exponential(1)"}), "'sigma'"),
    Case("prior-key-other-family", "priors", "`sigma` prior on a poisson model",
         glmm("count ~ x + (1 | g)", family="poisson", priors={"sigma": "exponential(1)"}), "'sigma'"),
    Case("prior-key-not-a-string", "priors", "`priors={1: 'normal(0, 1)'}`",
         glmm(SMALL_FORMULA, priors={1: "normal(0, 1)"}), "1"),
    Case("prior-no-finite-start", "priors", "`priors={'b': 'normal(2000, 1)'}` on a poisson slope: exp(η) overflows",
         lambda: gb.GLMM("count ~ x + (1 | g)", make_data(), family="poisson", priors={"b": "normal(2000, 1)"})
         .fit(draws=50, tune=50, chains=1, seed=1, progressbar=False), "outcome's likelihood"),
    Case("prior-sd-unbounded", "priors", "`priors={'sd': 'normal(0, 1)'}`",
         glmm(SMALL_FORMULA, priors={"sd": "normal(0, 1)"}), "half_normal"),
    Case("prior-sigma-unbounded", "priors", "`priors={'sigma': 'normal(0, 1)'}`",
         glmm(SMALL_FORMULA, priors={"sigma": "normal(0, 1)"}), "half_normal"),
    Case("prior-lkj-on-b", "priors", "`priors={'b': 'lkj(2)'}`",
         glmm("y ~ x + (1 + x | g)", priors={"b": "lkj(2)"}), "lkj(2)"),
    Case("prior-lkj-no-correlation", "priors", "`priors={'sd': 'lkj(2)'}` on a model without groups",
         glmm("y ~ x", priors={"sd": "lkj(2)"}), "cor"),
    Case("prior-cor-uncorrelated", "priors", "`priors={'cor_g': 'lkj(2)'}` on `(x || g)` (no correlations)",
         glmm("y ~ x + (x || g)", priors={"cor_g": "lkj(2)"}), "they have none"),
    Case("prior-cor-not-lkj", "priors", "`priors={'cor': 'normal(0, 1)'}`",
         glmm("y ~ x + (1 + x | g)", priors={"cor": "normal(0, 1)"}), "lkj"),
    # ------------------------------------------------------------ spec files
    Case("spec-unknown-key", "spec files", "`familly = \"poisson\"` in a spec",
         spec_text(GOOD_SPEC + 'familly = "poisson"\n'), "familly"),
    Case("spec-invalid-toml", "spec files", "an unterminated string in a spec",
         spec_text('name = "m"\nformula = "y ~ x\n'), "not valid TOML"),
    Case("spec-draws-text", "spec files", "`draws = \"many\"` in `[sampler]`",
         spec_text(GOOD_SPEC + '[sampler]\ndraws = "many"\n'), "whole number"),
    Case("spec-unknown-sampler-key", "spec files", "`drawz = 10` in `[sampler]`",
         spec_text(GOOD_SPEC + '[sampler]\ndrawz = 10\n'), "drawz"),
    Case("spec-sampler-adaptation", "spec files", "`adaptation = \"full\"` in `[sampler]`",
         spec_text(GOOD_SPEC + '[sampler]\nadaptation = "full"\n'), "low_rank"),
    Case("spec-bad-parameterization", "spec files", "`parameterization = \"centered\"` (not one of the four)",
         spec_text(GOOD_SPEC + 'parameterization = "centered"\n'), "auto, noncentred, centred"),
    Case("spec-no-formula", "spec files", "a spec without `formula`",
         spec_text('name = "m"\nfamily = "gaussian"\n'), "formula"),
    Case("spec-forbidden-formula", "spec files", "a spec whose formula calls `__import__`",
         spec_text('name = "m"\nformula = \'y ~ __import__("os").system("echo hi")\'\n'), "not allowed"),
    Case("spec-prior-number", "spec files", "`b = 3` in `[priors]`",
         spec_text(GOOD_SPEC + '[priors]\nb = 3\n'), "normal(0, 2.5)"),
    Case("spec-categorical-string", "spec files", "`categorical = \"g\"` (not a list)",
         spec_text(GOOD_SPEC + 'categorical = "g"\n'), "list of column names"),
    Case("spec-file-missing", "spec files", "`ModelSpec.load('nope.toml')`",
         lambda: ModelSpec.load("nope.toml"), "does not exist"),
    Case("spec-data-file-missing", "spec files", "`data = \"missing.csv\"`, no such file",
         spec_file("no_data_file.toml", load_data=True), "does not exist"),
    Case("spec-no-data", "spec files", "loading the data of a spec without `data`",
         spec_file("no_data.toml", load_data=True), "builtin:hospital"),
    Case("spec-builtin-unknown", "spec files", "`data = \"builtin:hospitl\"`",
         lambda: ModelSpec.from_toml_string(GOOD_SPEC + 'data = "builtin:hospitl"\n').load_data(),
         "hospitl"),
    Case("spec-builtin-query", "spec files", "`data = \"builtin:hospital?size=3\"`",
         lambda: ModelSpec.from_toml_string(GOOD_SPEC + 'data = "builtin:hospital?size=3"\n').load_data(),
         "?seed=N"),
    Case("spec-data-not-text", "spec files", "`data = 5` in a spec",
         spec_text(GOOD_SPEC + "data = 5\n"), "'data' must be a string"),
    Case("spec-name-not-text", "spec files", "`name = 5` in a spec",
         spec_text(GOOD_SPEC.replace('name = "m"', "name = 5")), "'name' must be a string"),
    Case("spec-not-utf8", "spec files", "a spec file saved as UTF-16", spec_file("utf16.toml"), "not UTF-8"),
    Case("spec-data-directory", "spec files", "`data = \".\"` (a folder)",
         spec_file("data_dir.toml", load_data=True), "is a directory"),
    Case("spec-data-tabs", "spec files", "`data` naming a tab-separated file",
         spec_file("tabs.toml", load_data=True), "comma-separated"),
    Case("load-missing-fit", "spec files", "`gb.load('nope.nc')`", lambda: gb.load("nope.nc"), "does not exist"),
    Case("load-not-netcdf", "spec files", "`gb.load()` of a text file",
         lambda: gb.load(workdir() / "not_a_fit.nc"), "not a readable fit file"),
    # ------------------------------------------------------------ CLI arguments
    Case("cli-spec-missing", "CLI arguments", "`glmm-bayes fit nope.toml`", cli("fit", "nope.toml"),
         "does not exist"),
    Case("cli-draws-text", "CLI arguments", "`glmm-bayes fit good.toml --draws lots`",
         cli("fit", "{dir}/good.toml", "--draws", "lots"), "invalid int value"),
    Case("cli-backend-unknown", "CLI arguments", "`glmm-bayes fit good.toml --backend stan`",
         cli("fit", "{dir}/good.toml", "--backend", "stan"), "invalid choice"),
    Case("cli-chains-zero", "CLI arguments", "`glmm-bayes fit good.toml --chains 0`",
         cli("fit", "{dir}/good.toml", "--chains", "0", "--no-progress"), "chains must be"),
    Case("cli-bad-column", "CLI arguments", "`glmm-bayes fit` of a spec using a column `z` the CSV lacks",
         cli("fit", "{dir}/bad_column.toml", "--no-progress"), "column 'z'"),
    Case("cli-bad-toml", "CLI arguments", "`glmm-bayes fit` of a spec that is not TOML",
         cli("fit", "{dir}/bad_toml.toml"), "not valid TOML"),
    Case("cli-data-missing", "CLI arguments", "`glmm-bayes fit` of a spec naming a missing CSV",
         cli("fit", "{dir}/no_data_file.toml"), "does not exist"),
    Case("cli-unknown-command", "CLI arguments", "`glmm-bayes frobnicate`", cli("frobnicate"),
         "Run 'glmm-bayes --help'"),
    Case("cli-no-spec", "CLI arguments", "`glmm-bayes fit` without a spec", cli("fit"), "spec"),
    Case("cli-compare-missing", "CLI arguments", "`glmm-bayes compare nope.toml good.toml`",
         cli("compare", "nope.toml", "{dir}/good.toml", "--no-progress"), "does not exist"),
    Case("cli-unknown-flag", "CLI arguments", "`glmm-bayes fit good.toml --drawz 10`",
         cli("fit", "{dir}/good.toml", "--drawz", "10"), "Run 'glmm-bayes fit --help'"),
    Case("cli-seed-text", "CLI arguments", "`glmm-bayes fit good.toml --seed -1`",
         cli("fit", "{dir}/good.toml", "--seed", "-1", "--no-progress"), "seed"),
    Case("cli-compare-one-spec", "CLI arguments", "`glmm-bayes compare good.toml` (one spec)",
         cli("compare", "{dir}/good.toml", "--no-progress"), "needs at least 2 spec files"),
    Case("cli-compare-other-outcomes", "CLI arguments", "`glmm-bayes compare` of models of different outcomes",
         cli("compare", "{dir}/good.toml", "{dir}/other_outcome.toml", "--no-progress"), "different observations"),
    # ------------------------------------------------------------ prediction data
    Case("predict-missing-column", "prediction data", "`fit.predict(newdata)` without column `x`",
         predict(lambda: new_rows(x=None)), "'x'"),
    Case("predict-missing-group", "prediction data", "`fit.predict(newdata)` without the group column `g`",
         predict(lambda: new_rows(g=None)), "'g'"),
    Case("predict-not-a-frame", "prediction data", "`fit.predict({'x': [1.0]})` (a dict)",
         predict({"x": [1.0], "h": ["a"], "g": ["g0"]}), "DataFrame"),
    Case("predict-nan", "prediction data", "NaN in `newdata['x']`",
         predict(lambda: new_rows(x=[0.0, np.nan, 1.0, 2.0])), "missing values"),
    Case("predict-new-level-refused", "prediction data",
         "unseen group level with `allow_new_levels=False`",
         predict(lambda: new_rows(g=["g0", "new1", "g1", "new2"]), allow_new_levels=False), "new1"),
    Case("predict-unseen-category", "prediction data", "level `c` of fixed-effect factor `h` not seen in fitting",
         predict(lambda: new_rows(h=["a", "c", "b", "a"])), "'c'"),
    Case("predict-text-numbers", "prediction data", "`newdata['x']` as text",
         predict(lambda: new_rows(x=["0.1", "0.2", "zero", "1"])), "'x'"),
    Case("predict-empty", "prediction data", "`fit.predict(newdata.iloc[:0])` (no rows)",
         predict(lambda: new_rows().iloc[:0]), "newdata has no rows"),
    Case("predict-kind", "prediction data", "`kind='median'`", predict(kind="median"), "kind"),
    Case("predict-re", "prediction data", "`re='random'`", predict(re="random"), "conditional"),
    Case("predict-prob", "prediction data", "`prob=95`", predict(prob=95), "between 0 and 1"),
    Case("effects-unknown-variable", "prediction data", "`fit.effects('age')`",
         lambda: tiny_fit().effects("age"), "'age'"),
    # ------------------------------------------------------------ sampler options
    Case("sampler-bad-method", "sampler options", "`fit(method='advi')` (the method is 'vi')",
         lambda: gb.GLMM(SMALL_FORMULA, make_data()).fit(method="advi"), "'nuts' or 'vi'"),
    Case("sampler-bad-vi-method", "sampler options", "`fit(method='vi', vi_method='svgd')`",
         lambda: gb.GLMM(SMALL_FORMULA, make_data()).fit(method="vi", vi_method="svgd"), "advi, fullrank_advi"),
    Case("refit-no-rows", "sampler options", "`model.refit([])`",
         lambda: gb.GLMM(SMALL_FORMULA, make_data()).refit([]), "non-empty list of row positions"),
    Case("refit-row-outside", "sampler options", "`model.refit([0, 5, 500])` on 40 rows",
         lambda: gb.GLMM(SMALL_FORMULA, make_data()).refit([0, 5, 500]), "row position 500 is outside"),
    Case("refit-negative-row", "sampler options", "`model.refit([-1, 0, 1])`",
         lambda: gb.GLMM(SMALL_FORMULA, make_data()).refit([-1, 0, 1]), "row position -1 is outside"),
    Case("sampler-backend", "sampler options", "`fit(backend='stan')`", fit_with(backend="stan"), "'stan'"),
    Case("sampler-draws-zero", "sampler options", "`fit(draws=0)`", fit_with(draws=0), ">= 1"),
    Case("sampler-chains-zero", "sampler options", "`fit(chains=0)`", fit_with(chains=0), "chains"),
    Case("sampler-tune-negative", "sampler options", "`fit(tune=-5)`", fit_with(tune=-5), ">= 0"),
    Case("sampler-draws-fraction", "sampler options", "`fit(draws=10.5)`", fit_with(draws=10.5), "whole"),
    Case("sampler-seed-negative", "sampler options", "`fit(seed=-1)`", fit_with(seed=-1), "seed"),
    Case("sampler-target-accept", "sampler options", "`fit(target_accept=1.5)`",
         fit_with(target_accept=1.5), "between 0 and 1"),
    Case("sampler-adaptation", "sampler options", "`fit(adaptation='full')`",
         lambda: tiny_fit().model.fit(adaptation="full", draws=10, tune=10, chains=1, progressbar=False),
         "adaptation"),
    Case("sampler-unknown-setting", "sampler options", "`GLMM(..., sampler={'draw': 100})`",
         glmm(SMALL_FORMULA, sampler={"draw": 100}), "'draw'"),
]


# ---------------------------------------------------------------- running and the document
def run_case(case: Case) -> str:
    """Make the bad call; return its ``GLMMInputError`` message (temporary paths → ``<dir>``).

    Anything else propagates: a call that succeeds raises ``AssertionError``.
    """
    try:
        case.call()
    except GLMMInputError as exc:
        return normalise(str(exc))
    raise AssertionError(f"{case.id}: no error was raised")


def normalise(message: str) -> str:
    """Replace the temporary folder by ``<dir>`` so the message is the same on every machine."""
    return message.replace(str(workdir()), "<dir>").strip()


def shorten(message: str, width: int = MESSAGE_WIDTH) -> str:
    text = " ".join(message.split())
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


def cell(text: str) -> str:
    """Markdown table cell: pipes escaped, one line."""
    return " ".join(text.split()).replace("|", "\\|")


def outcome(case: Case) -> str:
    try:
        return run_case(case)
    except Exception as exc:  # noqa: BLE001 - a known bug still gets its row
        return f"(not a GLMMInputError: {type(exc).__name__}: {exc})"


def markdown() -> str:
    """``docs/bad_inputs.md``: one table row per case, grouped by area."""
    lines = [
        "# Bad inputs and the messages they get",
        "",
        "Every user mistake raises `glmm_bayes.GLMMInputError` (the command line: exit code 2 and the",
        "message on stderr) with a message that names the column, value or key and says what would fix it.",
        f"This table lists the {len(CASES)} cases of `tests/bad_input_catalogue.py`; each is a test in",
        "`tests/test_bad_input_catalogue.py`. Messages longer than "
        f"{MESSAGE_WIDTH} characters are cut (…).",
        "",
        "Generated by `.venv/bin/python tests/bad_input_catalogue.py > docs/bad_inputs.md`; do not edit by hand",
        "(a test fails when this file differs from what the generator writes).",
        "",
        "| area | input | message |",
        "|---|---|---|",
    ]
    for area in AREAS:
        for case in (c for c in CASES if c.area == area):
            lines.append(f"| {area} | {cell(case.did)} | {cell(shorten(outcome(case)))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
