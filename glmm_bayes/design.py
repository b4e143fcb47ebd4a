"""From (formula, data, family) to a :class:`Design`: response, fixed-effect matrix, group indices.

The formula is split into its response, its fixed part and its group-level
blocks ``(lhs | group)`` / ``(lhs || group)``; formulae builds every matrix
(the fixed effects, and the per-row slope columns of each block). Random
effects are kept as **indices, not a dense Z**: each block holds one integer
code per row (which level of the grouping factor) and an ``(n, k)`` matrix of
the block's columns, so the linear predictor adds ``sum_k u[code, k] * Z[:, k]``.

A :class:`Design` re-evaluates on new data with the same encodings
(:meth:`Design.evaluate`), which is what prediction needs.

Example
-------
>>> import pandas as pd
>>> df = pd.DataFrame({"y": [1., 2., 4., 3., 5., 7.], "x": [0, 1, 2, 0, 1, 2],
...                    "g": ["a", "a", "a", "b", "b", "b"]})
>>> d = make_design("y ~ x + (1 + x | g)", df, family="gaussian")
>>> d.X_columns, d.blocks[0].label, d.blocks[0].columns, d.blocks[0].levels
(['Intercept', 'x'], 'g', ['Intercept', 'x'], ['a', 'b'])
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, replace

import formulae as fm
import numpy as np
import pandas as pd

from glmm_bayes.errors import GLMMInputError, warn_user
from glmm_bayes.families import FAMILIES, Family, Response, get_family

# Functions a formula may call: everything else is refused before formulae sees it,
# so a formula (from a spec file or the command line) can never run arbitrary code.
ALLOWED_FUNCTIONS = frozenset({
    "C", "I", "p", "censored", "offset", "center", "scale", "standardize",
    "log", "log1p", "log2", "log10", "exp", "sqrt", "abs",
    "np.log", "np.log1p", "np.log2", "np.log10", "np.exp", "np.sqrt", "np.abs", "np.square",
})
# R and brms functions a user may write, and what to write here instead (named in the error)
R_SPELLINGS = {
    "factor": "C(x) (or categorical=['x'])", "as.factor": "C(x) (or categorical=['x'])",
    "ordered": "an ordered pandas Categorical column",
    "cbind": "p(successes, trials): cbind(s, f) counts failures, so add a column n = s + f and write p(s, n)",
    "trials": "p(successes, trials) as the outcome: 's | trials(n) ~ x' is 'p(s, n) ~ x'",
    "poly": "I(x**2) (and I(x**3)) beside x, after center(x) if the powers are nearly collinear",
    "as.numeric": "the column itself (convert it in pandas first)",
}
_NAMESPACE = {"np": np, "log": np.log, "log1p": np.log1p, "log2": np.log2, "log10": np.log10,
              "exp": np.exp, "sqrt": np.sqrt, "abs": np.abs}
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\s*\.\s*\w+)+")
_CALL = re.compile(r"([A-Za-z_][\w.]*)\s*\(")
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
_BACKQUOTED = re.compile(r"^`([^`]+)`$")  # a column name with spaces or other characters, as formulae reads it
_COLUMN = r"(?:[A-Za-z_]\w*|`[^`]+`)"  # a column in the response: a plain or a backquoted name
_COLUMN_RE = re.compile(rf"^{_COLUMN}$")
_QUOTED_SPLIT = re.compile(r"(`[^`]*`)")  # splits a formula into plain text and backquoted names
_BRMS_TRIALS = re.compile(r"^\s*([\w.]+|`[^`]+`)\s*\|\s*trials\(\s*([\w.]+|`[^`]+`)\s*\)\s*~")  # brms' s | trials(n)
_OFFSET_RE = re.compile(r"^offset\((.+)\)$", re.DOTALL)


# ---------------------------------------------------------------- formula parsing
@dataclass(frozen=True)
class GroupTerm:
    """One group-level term as written: ``(lhs | group)`` (correlated) or ``(lhs || group)``."""

    lhs: str
    group: str  # label, e.g. "herd" or "herd:obs"
    factors: tuple[str, ...]  # the data columns whose combination defines the groups
    correlated: bool


@dataclass(frozen=True)
class ParsedFormula:
    """A formula split into response, fixed part and group-level terms."""

    response: str
    fixed: str
    groups: tuple[GroupTerm, ...]
    offsets: tuple[str, ...] = ()  # the expressions inside offset(...) terms: added to η, coefficient 1


def column_name(token: str) -> str:
    """The column a name in a formula reads: ``x`` → ``x``, ```my x``` → ``my x``."""
    m = _BACKQUOTED.match(token)
    return m.group(1) if m else token


def normalise_formula(formula: str, columns=()) -> str:
    """Read R's spellings the way lme4 and brms do, in formulae's language: a column name with dots
    (``total.fruits``, common in R data) is backquoted, ``^`` is ``**`` (``I(age^2)`` is a square,
    ``(a + b)^2`` all interactions of two), and brms' binomial outcome ``s | trials(n)`` is ``p(s, n)``.
    Backquoted names are left as they are.

    >>> normalise_formula("total.fruits ~ I(age^2) + (1 | pop.id)", ["total.fruits", "age", "pop.id"])
    '`total.fruits` ~ I(age**2) + (1 | `pop.id`)'
    >>> normalise_formula("incidence | trials(size) ~ period")
    'p(incidence, size) ~ period'
    """
    dotted = sorted((c for c in map(str, columns) if "." in c and _NAME.match(c) and c not in ALLOWED_FUNCTIONS),
                    key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, dotted)) + r")(?![\w.])") if dotted else None
    formula = _BRMS_TRIALS.sub(r"p(\1, \2) ~", formula)
    pieces = _QUOTED_SPLIT.split(formula)
    for i in range(0, len(pieces), 2):  # even pieces lie outside backquotes
        if pattern is not None:
            pieces[i] = pattern.sub(r"`\1`", pieces[i])
        pieces[i] = pieces[i].replace("^", "**")
    return "".join(pieces)


def check_safe(formula: str, columns=None) -> None:
    """Refuse a formula (as :func:`normalise_formula` gives it) that calls anything outside
    :data:`ALLOWED_FUNCTIONS`. Backquoted names are column names (formulae looks them up in the data;
    nothing is evaluated). ``columns`` (the data's, when known) lets a dotted name be a column's; without
    them (a spec file read before its data) dotted names are left to the check made with the data.

    >>> check_safe("y ~ np.log(x) + C(g) + `my x`")
    >>> check_safe('y ~ __import__("os").system("ls")')
    Traceback (most recent call last):
    ...
    glmm_bayes.errors.GLMMInputError: formula calls '__import__', which is not allowed; ...
    """
    formula = "".join(p if i % 2 == 0 else "q" for i, p in enumerate(_QUOTED_SPLIT.split(formula)))
    allowed = ", ".join(sorted(ALLOWED_FUNCTIONS))
    has_lambda = re.search(r"\blambda\b", formula) is not None
    if "__" in formula or has_lambda or ";" in formula:
        bad = "__" if "__" in formula else ("lambda" if has_lambda else ";")
        for name in _CALL.findall(formula):
            if name not in ALLOWED_FUNCTIONS:
                bad = name
                break
        hint = " (a column named so is written in backquotes: `lambda`)" if bad == "lambda" else ""
        raise GLMMInputError(f"formula calls '{bad}', which is not allowed{hint}; a formula may only use column "
                             f"names and these functions: {allowed}")
    for name in _CALL.findall(formula):
        if name in R_SPELLINGS:
            raise GLMMInputError(f"formula calls '{name}', an R function; write {R_SPELLINGS[name]}. A formula may "
                                 f"only use column names and these functions: {allowed}")
        if name not in ALLOWED_FUNCTIONS:
            raise GLMMInputError(f"formula calls '{name}', which is not allowed; a formula may only use "
                                 f"column names and these functions: {allowed}")
    for dotted in _DOTTED.findall(formula) if columns is not None else ():
        name = re.sub(r"\s+", "", dotted)
        if re.fullmatch(r"\d+\.\d*", name) or name in ALLOWED_FUNCTIONS:
            continue
        raise GLMMInputError(f"formula uses '{name}', which is neither a column of the data nor an allowed "
                             f"function; a formula may only use column names and these functions: {allowed}")


def _split_top_level(text: str, sep: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([" and 1 or 0
        depth -= ch in ")]" and 1 or 0
        if depth == 0 and ch == sep:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _group_terms(lhs: str, group_expr: str, correlated: bool, formula: str) -> list[GroupTerm]:
    nest = [g.strip() for g in group_expr.split("/")]
    terms, prefix = [], []
    for level in nest:
        written = [f.strip() for f in level.split(":")]
        if not all(_NAME.match(f) or _BACKQUOTED.match(f) for f in written):
            raise GLMMInputError(
                f"grouping factor '{group_expr}' in '{formula}' must be column names joined by ':' "
                f"(interaction) or '/' (nesting), e.g. (1 | school/class)")
        # (1 | g:g) is (1 | g); a backquoted name (`my group`) is the column of that name, as in formulae
        factors = tuple(dict.fromkeys(_BACKQUOTED.sub(r"\1", f) for f in written))
        prefix = list(dict.fromkeys(prefix + list(factors)))
        terms.append(GroupTerm(lhs, ":".join(prefix), tuple(prefix), correlated))
    return terms


def parse_formula(formula: str, columns=()) -> ParsedFormula:
    """Split ``formula`` into response, fixed part and group-level terms.

    >>> f = parse_formula("y ~ x + (1 + x || g) + (1 | a/b)")
    >>> f.fixed, [(t.lhs, t.group, t.correlated) for t in f.groups]
    ('x', [('1 + x', 'g', False), ('1', 'a', True), ('1', 'a:b', True)])
    """
    if not isinstance(formula, str) or "~" not in formula:
        raise GLMMInputError(f"formula must be a string like 'y ~ x + (1 | g)', got {formula!r}")
    if formula.count("~") != 1:
        raise GLMMInputError(f"formula '{formula}' must contain exactly one '~'")
    formula = normalise_formula(formula, columns)
    check_safe(formula, columns)
    response, _, rhs = formula.partition("~")
    response = response.strip()
    if not response:
        raise GLMMInputError(f"formula '{formula}' has no response on the left of '~'")
    if rhs.count("(") != rhs.count(")"):
        raise GLMMInputError(f"formula '{formula}' has unbalanced parentheses")
    fixed_parts, groups, offsets = [], [], []
    for part in _split_top_level(rhs, "+"):
        inner = part[1:-1].strip() if part.startswith("(") and part.endswith(")") else None
        if inner is not None and len(_split_top_level(inner, "|")) > 1:
            pieces = _split_top_level(inner, "|")
            correlated = len(pieces) == 2
            if len(pieces) not in (2, 3) or (len(pieces) == 3 and pieces[1] != ""):
                raise GLMMInputError(f"group-level term '{part}' must look like (1 + x | g) or (1 + x || g)")
            lhs, group_expr = pieces[0], pieces[-1]
            if not lhs or not group_expr:
                raise GLMMInputError(f"group-level term '{part}' needs terms left of '|' and a group right of it")
            groups.extend(_group_terms(lhs, group_expr, correlated, formula))
        elif len(_split_top_level(part, "|")) > 1:
            raise GLMMInputError(f"'{part}' looks like a group-level term; write it in parentheses: ({part})")
        elif m := _OFFSET_RE.match(part):
            offsets.append(m.group(1).strip())
        elif part:
            fixed_parts.append(part)
    fixed = " + ".join(fixed_parts) if fixed_parts else "1"
    return ParsedFormula(response, fixed, tuple(groups), tuple(offsets))


def _var_names(expr: str, what: str) -> set[str]:
    try:
        names = fm.model_description(expr).var_names
    except Exception as exc:  # formulae's own parse errors
        raise GLMMInputError(f"cannot parse the {what} '{expr}': {exc}") from None
    numbers = [n for n in names if not isinstance(n, str)]  # formulae lists literal numbers (y ~ x + 2)
    if numbers:
        raise GLMMInputError(
            f"the {what} '{expr}' contains the number {numbers[0]}, which is not a term. Use 1 or 0 to keep or "
            f"drop the intercept, I(...) for arithmetic such as I(x + {numbers[0]}), or a column name.")
    return {n for n in names if n}


# ---------------------------------------------------------------- response
_P_RE = re.compile(rf"^p\(\s*({_COLUMN})\s*,\s*({_COLUMN})\s*\)$")
_CENS_RE = re.compile(rf"^censored\(\s*({_COLUMN})\s*,\s*({_COLUMN})\s*\)$")
_LEVEL_RE = re.compile(rf"^({_COLUMN})\s*\[\s*(.+?)\s*\]$")


def response_columns(lhs: str) -> list[str]:
    """The data columns the response expression reads."""
    for regex in (_P_RE, _CENS_RE):
        m = regex.match(lhs)
        if m:
            return [column_name(m.group(1)), column_name(m.group(2))]
    m = _LEVEL_RE.match(lhs)
    if m:
        return [column_name(m.group(1))]
    if _NAME.match(lhs) or _COLUMN_RE.match(lhs):
        return [column_name(lhs)]
    return sorted(_var_names(lhs, "response"))


def _numeric(values: pd.Series, column: str, what: str) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        raise GLMMInputError(f"{what} column '{column}' must be numeric, but it holds values like "
                             f"{values.iloc[0]!r}")
    return values.to_numpy(dtype=float)


def build_response(lhs: str, data: pd.DataFrame, family: Family) -> Response:
    """Evaluate the left-hand side of the formula into a :class:`Response`."""
    if m := _CENS_RE.match(lhs):
        if not family.censorable:
            raise GLMMInputError(
                f"'censored(time, status)' needs a family that models censoring; family '{family.name}' does "
                f"not. Use one of: {', '.join(n for n, f in FAMILIES.items() if f.censorable)} "
                f"(survival: 'weibull', 'lognormal', 'exponential')")
        return _censored_response(data, column_name(m.group(1)), column_name(m.group(2)))
    if _COLUMN_RE.match(lhs):
        lhs = column_name(lhs)
    if family.ordinal or family.nominal:
        what = "an ordinal" if family.ordinal else "a categorical"
        if not (_NAME.match(lhs) or lhs in data.columns):
            raise GLMMInputError(f"{what} response must be one column, got '{lhs}'")
        return _ordinal_response(data[lhs], lhs) if family.ordinal else _nominal_response(data[lhs], lhs)
    if m := _P_RE.match(lhs):
        y, n = column_name(m.group(1)), column_name(m.group(2))
        if not family.needs_trials:
            with_trials = " or ".join(repr(name) for name, f in FAMILIES.items() if f.needs_trials)
            raise GLMMInputError(
                f"'{lhs}' is a count of successes out of trials, the outcome of family {with_trials}; family "
                f"'{family.name}' models one outcome column: write '{y} ~ ...' (the trials '{n}' then go "
                f"unused), or choose one of those families")
        return Response(y, _numeric(data[y], y, "successes"), _numeric(data[n], n, "trials"))
    if m := _LEVEL_RE.match(lhs):
        col, level = column_name(m.group(1)), m.group(2).strip("'\"")
        values = data[col].astype(str)
        present = sorted(values.unique())
        if level not in present:
            raise GLMMInputError(f"response '{lhs}': level '{level}' does not occur in column '{col}'; "
                                 f"its values are: {', '.join(present[:20])}")
        return Response(col, (values == level).to_numpy(dtype=float), event_level=level)
    if _NAME.match(lhs) or lhs in data.columns:
        values = data[lhs]
        numeric = (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)) and \
            not isinstance(values.dtype, pd.CategoricalDtype)
        if not numeric:  # text: the levels sorted, a pandas Categorical's in its own order (R's factor levels)
            present = set(values.astype(str))
            levels = ([str(c) for c in values.cat.categories if str(c) in present]
                      if isinstance(values.dtype, pd.CategoricalDtype) else sorted(present))
            if family.name == "bernoulli" and len(levels) == 2:
                return Response(lhs, (values.astype(str) == levels[1]).to_numpy(dtype=float),
                                event_level=levels[1])
            hint = (f"; write '{lhs}[{levels[-1]}] ~ ...' to model the probability of one level"
                    if len(levels) == 2 else
                    f"; write '{lhs}[{levels[-1]}] ~ ...' to model the probability of one level against the rest, "
                    f"or use family 'categorical' for all {len(levels)} levels" if family.name in (
                        "bernoulli", "binomial") else "")
            raise GLMMInputError(f"response column '{lhs}' is not numeric (values like "
                                 f"{', '.join(levels[:5])}){hint}")
        return Response(lhs, values.to_numpy(dtype=float))
    try:
        dm = fm.design_matrices(f"{lhs} ~ 1", data, env=0, extra_namespace=_NAMESPACE)
        y = np.asarray(dm.response.design_matrix, dtype=float)
    except Exception as exc:
        raise GLMMInputError(f"cannot evaluate the response '{lhs}': {exc}") from None
    if y.ndim == 2 and y.shape[1] != 1:
        raise GLMMInputError(f"response '{lhs}' must give one value per row")
    return Response(lhs, y.ravel())


def _censored_response(data: pd.DataFrame, time: str, status: str) -> Response:
    """``censored(time, status)``: status 1 = event, 0 = right-censored, -1 = left-censored."""
    t = _numeric(data[time], time, "survival time")
    s = data[status]
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(int)
    values = _numeric(s, status, "censoring status")
    bad = np.flatnonzero(~np.isin(values, (0.0, 1.0, -1.0)))
    if len(bad):
        i = bad[0]
        raise GLMMInputError(
            f"censoring status column '{status}' must be 1 (event observed) or 0 (right-censored) "
            f"(-1 = left-censored), but row {i} has {values[i]:g} ({len(bad)} such row(s)). Recode it, "
            f"e.g. status = (event == 'dead').astype(int); note that some software codes 1/2 (R's Surv "
            f"accepts 1 = censored, 2 = event): subtract 1 from such a column.")
    return Response(time, t, status=values.astype(np.int64), status_name=status)


def _unused_categories(values: pd.Series) -> list[str]:
    """Categories of a pandas Categorical that no row takes."""
    counts = values.value_counts(sort=False)
    return [str(c) for c, k in counts.items() if k == 0]


def _ordinal_response(values: pd.Series, name: str) -> Response:
    """Ordered categories → scores per row with the level labels (see :class:`Response`)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = list(values.cat.categories)
        numeric_cats = all(isinstance(c, (int, float, np.integer, np.floating)) for c in cats)
        if values.cat.ordered:
            if unused := _unused_categories(values):
                raise GLMMInputError(
                    f"ordinal response '{name}' has categor{'y' if len(unused) == 1 else 'ies'} with no "
                    f"observations: {', '.join(unused)}. Its cutpoint would not be identified; drop the unused "
                    f"categor{'y' if len(unused) == 1 else 'ies'} (values.cat.remove_unused_categories()) or "
                    f"merge it with a neighbour.")
            codes = values.cat.codes.to_numpy()
            scores = np.arange(1, len(cats) + 1, dtype=float)
            return Response(name, scores[codes], levels=[str(c) for c in cats], scores=scores)
        if not numeric_cats:
            raise GLMMInputError(
                f"ordinal response '{name}' holds unordered categories ({', '.join(map(str, cats[:6]))}); "
                f"their order is unknown. Make it an ordered pandas Categorical, e.g. "
                f"pd.Categorical(df['{name}'], categories=[...in order...], ordered=True), or use numeric "
                f"scores 1, 2, ..., K.")
        values = values.astype(float)
    y = _numeric(values, name, "ordinal response")
    levels = np.unique(y)
    if np.any(levels != np.round(levels)):
        raise GLMMInputError(
            f"ordinal response '{name}' must hold whole-number scores (e.g. ratings 1..5), but it has "
            f"{levels[levels != np.round(levels)][0]:g}. Recode it to ordered integers or an ordered Categorical.")
    gaps = [v for v in np.arange(levels[0], levels[-1] + 1) if v not in set(levels)]
    if gaps:
        raise GLMMInputError(
            f"ordinal response '{name}' has values {', '.join(f'{v:g}' for v in levels[:12])} with no "
            f"observations of {', '.join(f'{v:g}' for v in gaps[:12])}: a category with no observations "
            f"has no identified cutpoint. Recode to consecutive scores (e.g. with "
            f"pd.factorize(sorted values)) or merge the sparse categories.")
    return Response(name, y, levels=[f"{v:g}" for v in levels], scores=levels.astype(float))


def _nominal_response(values: pd.Series, name: str) -> Response:
    """Unordered categories → codes 0..K-1; the first category (the first of a pandas Categorical's
    categories, else the smallest value) is the reference."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = list(values.cat.categories)
        if unused := _unused_categories(values):
            raise GLMMInputError(
                f"categorical response '{name}' has categor{'y' if len(unused) == 1 else 'ies'} with no "
                f"observations: {', '.join(unused)}. Its coefficients would not be identified; drop "
                f"{'it' if len(unused) == 1 else 'them'} (values.cat.remove_unused_categories()) or merge "
                f"with another category.")
        codes = values.cat.codes.to_numpy()
    else:
        cats = sorted(values.unique(), key=lambda v: (not isinstance(v, (int, float, np.number)), v))
        codes = pd.Categorical(values, categories=cats).codes
    levels = [f"{c:g}" if isinstance(c, (float, np.floating)) else str(c) for c in cats]
    if len(set(levels)) != len(levels):
        raise GLMMInputError(f"categorical response '{name}' has categories that print the same: {levels}")
    return Response(name, codes.astype(float), levels=levels)


def expand_names(columns: list[str], eta_names: tuple[str, ...]) -> list[str]:
    """Coefficient names: the columns themselves, or per linear predictor ``<eta>_<column>``
    (categorical: ``mu2_Intercept, mu2_x, mu3_Intercept, ...``, category-major as in brms).

    >>> expand_names(["Intercept", "x"], ("mub", "muc"))
    ['mub_Intercept', 'mub_x', 'muc_Intercept', 'muc_x']
    """
    if not eta_names:
        return list(columns)
    return [f"{eta}_{col}" for eta in eta_names for col in columns]


# ---------------------------------------------------------------- design
@dataclass
class GroupBlock:
    """One group-level block: per-row level codes and slope columns.

    ``key`` is unique within the model (used for PyMC variable names); ``label``
    is the grouping factor as written (used in parameter labels ``sd_<label>__<column>``).
    """

    term: GroupTerm
    key: str
    columns: list[str]
    levels: list[str]
    codes: np.ndarray
    Z: np.ndarray
    matrix: object = field(repr=False)  # formulae CommonEffectsMatrix for new data
    level_index: dict = field(repr=False, default_factory=dict)
    eta_names: tuple[str, ...] = ()  # categorical: one set of effects per linear predictor
    # means of the slope columns (0 at the Intercept) when the block has an intercept and slopes: the
    # non-centred effects are drawn around the intercept at these means (builder.effects_from_z)
    slope_means: np.ndarray | None = None

    @property
    def label(self) -> str:
        return self.term.group

    @property
    def coef_names(self) -> list[str]:
        """The block's effects per level: its columns, or (categorical) ``<eta>_<column>`` for each η."""
        return expand_names(self.columns, self.eta_names)

    @property
    def correlated(self) -> bool:
        return self.term.correlated and len(self.coef_names) > 1

    @property
    def intercept_only(self) -> bool:
        return self.columns == ["Intercept"]


@dataclass
class Design:
    """Everything the model builder needs, as plain arrays (see module docstring)."""

    formula: str
    parsed: ParsedFormula
    family: Family
    link: str
    response: Response
    X: np.ndarray
    X_columns: list[str]
    blocks: list[GroupBlock]
    data: pd.DataFrame
    fixed_matrix: object = field(repr=False)
    dropped_rows: int = 0
    intercept_dropped: bool = False  # the family has no intercept (ordinal): formulae's column removed
    row_map: np.ndarray | None = field(default=None, repr=False)  # aggregated design: source row → row here
    source: "Design | None" = field(default=None, repr=False)  # aggregated design: the per-row design
    _x_stats: tuple | None = field(default=None, repr=False)
    row_labels: pd.Index | None = field(default=None, repr=False)  # the data's own labels of the rows kept
    offset: np.ndarray | None = field(default=None, repr=False)  # per row: the sum of the offset(...) terms
    offset_matrix: object = field(default=None, repr=False)  # formulae's terms of the offsets (for new data)

    @property
    def offset_mean(self) -> float:
        """The mean of the offsets (0 without any): default priors and starts of the intercept subtract it."""
        return 0.0 if self.offset is None else float(np.mean(self.offset))

    @property
    def n(self) -> int:
        return self.response.n

    @property
    def column_means(self) -> np.ndarray:
        """Mean of each column of X over the data rows (an aggregated design keeps its source's)."""
        if self._x_stats is not None:
            return self._x_stats[0].copy()
        return self.X.mean(axis=0) if self.n else np.zeros(len(self.X_columns))

    @property
    def column_sds(self) -> np.ndarray:
        """Standard deviation of each column of X over the data rows (an aggregated design keeps its source's)."""
        if self._x_stats is not None:
            return self._x_stats[1].copy()
        return self.X.std(axis=0) if self.n else np.ones(len(self.X_columns))

    @property
    def eta_names(self) -> tuple[str, ...]:
        """Names of the linear predictors when there are several (categorical), else ()."""
        return self.family.eta_names(self.response)

    @property
    def coef_names(self) -> list[str]:
        """Fixed-effect coefficient names: ``X_columns``, or (categorical) ``<eta>_<column>`` for each η."""
        return expand_names(self.X_columns, self.eta_names)

    def coef_position(self, name: str) -> tuple[int, int]:
        """(linear predictor, column of X) of a fixed-effect coefficient."""
        i = self.coef_names.index(name)
        return divmod(i, len(self.X_columns))

    def evaluate(self, newdata: pd.DataFrame, groups: bool = True) -> "NewDesign":
        """Matrices for new rows with this design's encodings; unseen levels get negative codes.
        ``groups=False``: no level codes (predictions without group effects need no grouping columns)."""
        return evaluate_new(self, newdata, groups)


@dataclass
class NewDesign:
    """Fixed-effect matrix, level codes (negative = a new level, one code per new level) and slope columns,
    and the rows' offsets (None without offset terms)."""

    X: np.ndarray
    codes: list[np.ndarray]
    Z: list[np.ndarray]
    new_levels: list[list[str]]
    offset: np.ndarray | None = None


def _missing_column_error(column: str, data: pd.DataFrame, where: str) -> GLMMInputError:
    column = str(column)
    close = difflib.get_close_matches(column, [str(c) for c in data.columns], n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return GLMMInputError(f"column '{column}' used in the {where} is not in the data.{hint} "
                          f"Columns are: {', '.join(map(str, data.columns[:30]))}")


def used_columns(parsed: ParsedFormula) -> dict[str, str]:
    """Map each data column the formula reads to where it is used (for error messages). The outcome column
    (the successes of ``p(successes, trials)``, the time of ``censored(time, status)``) may not be a predictor
    too; trials may.

    >>> used_columns(parse_formula("y ~ x + (1 | g)"))
    {'y': 'response', 'x': 'fixed effects', 'g': "grouping factor 'g'"}
    """
    where: dict[str, str] = {}
    outcome = response_columns(parsed.response)
    for col in outcome:
        where.setdefault(col, "response")
    predictors = [(col, "fixed effects") for col in sorted(_var_names(parsed.fixed, "fixed effects"))]
    for expr in parsed.offsets:
        predictors += [(col, f"offset term offset({expr})") for col in sorted(_var_names(expr, f"offset({expr})"))]
    for term in parsed.groups:
        label = f"group-level term ({term.lhs} | {term.group})"
        predictors += [(col, label) for col in sorted(_var_names(term.lhs, label))]
        predictors += [(col, f"grouping factor '{term.group}'") for col in term.factors]
    for col, place in predictors:
        if outcome and col == outcome[0]:
            raise GLMMInputError(f"column '{col}' is the response and also a predictor (in the {place}); a column "
                                 f"cannot explain itself: remove '{col}' from the right of '~'")
        where.setdefault(col, place)
    return where


def prepare_data(data: pd.DataFrame, columns: dict[str, str], categorical: list[str] | None,
                 na_action: str) -> tuple[pd.DataFrame, int, pd.Index]:
    """Select the used columns, check them, make categoricals explicit, handle missing values. Returns the
    frame (index 0..n-1), the number of rows dropped and the data's own labels of the rows kept."""
    if not isinstance(data, pd.DataFrame):
        raise GLMMInputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if len(data) == 0:
        raise GLMMInputError("the data has no rows")
    dups = [c for c in columns if (data.columns == c).sum() > 1]
    if dups:
        raise GLMMInputError(f"column '{dups[0]}' appears more than once in the data; rename or drop the duplicates")
    for col, where in columns.items():
        if col not in data.columns:
            raise _missing_column_error(col, data, where)
        if col == "Intercept" and where != "response":
            raise GLMMInputError("column 'Intercept' has the name of the model's own intercept column (b_Intercept); "
                                 "rename it (e.g. data.rename(columns={'Intercept': 'intercept_value'}))")
    categorical = list(categorical or [])
    for col in categorical:
        if col not in data.columns:
            raise _missing_column_error(col, data, "'categorical' list")
    keep = list(dict.fromkeys(list(columns) + [c for c in categorical if c in columns]))
    df = data[keep].copy()
    if na_action not in ("error", "drop"):
        raise GLMMInputError(f"na_action must be 'error' or 'drop', got {na_action!r}")
    missing = df.isna()
    n_missing_rows = int(missing.any(axis=1).sum())
    if n_missing_rows:
        per_col = missing.sum()
        detail = ", ".join(f"'{c}' ({int(k)})" for c, k in per_col[per_col > 0].items())
        if na_action == "error":
            raise GLMMInputError(
                f"{n_missing_rows} row(s) have missing values in the columns the model uses: {detail}. "
                f"Fill them in, or drop those rows: na_action='drop' in Python, na_action = \"drop\" in a spec file.")
        warn_user(f"dropped {n_missing_rows} of {len(df)} row(s) with missing values in: {detail}")
        df = df.loc[~missing.any(axis=1)]
        if len(df) == 0:
            raise GLMMInputError("every row has a missing value in a column the model uses")
    labels = df.index  # the caller's labels of the rows kept: predictions of the fitted rows carry them
    df = df.reset_index(drop=True)
    for col in df.columns:
        s = df[col]
        unused = _unused_categories(s) if isinstance(s.dtype, pd.CategoricalDtype) and columns.get(col) != "response" \
            else []
        if unused:
            warn_user(f"column '{col}' has categories without rows ({', '.join(unused[:10])}); they are left out, "
                      f"as R's droplevels() would (df['{col}'].cat.remove_unused_categories())")
            s = df[col] = s.cat.remove_unused_categories()
        if pd.api.types.is_datetime64_any_dtype(s) or pd.api.types.is_timedelta64_dtype(s):
            raise GLMMInputError(f"column '{col}' holds datetime values; convert it to a numeric value (e.g. days since "
                                 f"the start) or a category before modelling")
        if col in categorical and not isinstance(s.dtype, pd.CategoricalDtype):
            if pd.api.types.is_float_dtype(s) and not np.all(np.mod(s.to_numpy(float), 1) == 0):
                warn_user(f"categorical=['{col}'] turns a column of non-whole numbers into {s.nunique()} "
                          f"categories (one coefficient each); leave it out of 'categorical' to use it as a "
                          f"numeric predictor", UserWarning)
            df[col] = _sorted_categorical(s)
        elif not isinstance(s.dtype, pd.CategoricalDtype) and (pd.api.types.is_string_dtype(s) or s.dtype == object):
            df[col] = pd.Categorical(s.astype(str), categories=sorted(s.astype(str).unique()))
        elif isinstance(s.dtype, pd.CategoricalDtype) and not s.cat.ordered and columns.get(col) != "response":
            # formulae sorts the levels of an unordered Categorical; as in R, the user's order (its first
            # category the reference) is kept by marking it ordered (an ordinal response stays as given)
            df[col] = s.cat.as_ordered()
    return df, n_missing_rows, labels


def _sorted_categorical(s: pd.Series) -> pd.Categorical:
    """A Categorical with sorted levels; values of mixed types (1 and "a") are compared as text."""
    try:
        return pd.Categorical(s, categories=sorted(s.unique()))
    except TypeError:
        return pd.Categorical(s.astype(str), categories=sorted(s.astype(str).unique()))


def _level_names(frame: pd.DataFrame) -> list[str]:
    """One name per row of the grouping columns ``frame``: the value of one column, or the values of several
    joined by ':' as lme4 names the levels of ``(1 | a:b)`` ("site_1:2"). A ':' or '\\' inside a value is
    escaped with '\\', so two different combinations never share a name (the name finds a level's effect
    when predicting).

    >>> _level_names(pd.DataFrame({"a": ["x_1", "x", "p:q"], "b": [2.0, "1_2", "r"]}))
    ['x_1:2', 'x:1_2', 'p\\\\:q:r']
    """
    def fmt(v, escape):
        text = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
        return text.replace("\\", "\\\\").replace(":", "\\:") if escape else text

    escape = frame.shape[1] > 1
    return [":".join(fmt(v, escape) for v in row) for row in frame.itertuples(index=False, name=None)]


def _group_codes(df: pd.DataFrame, term: GroupTerm) -> tuple[np.ndarray, list[str]]:
    groups = df.groupby(list(term.factors), sort=True, observed=True)
    codes = groups.ngroup().to_numpy()
    levels = _level_names(groups.size().reset_index()[list(term.factors)])
    if len(set(levels)) < len(levels):  # e.g. 1 and "1" in one column: both print as 1
        twice = next(name for name in levels if levels.count(name) > 1)
        raise GLMMInputError(f"grouping factor '{term.group}' has different values that print the same, "
                             f"'{twice}' (e.g. the number 1 and the text \"1\"); make the column "
                             f"{', '.join(repr(c) for c in term.factors)} one type (text or numbers)")
    return codes.astype(np.int64), levels


def _fixed_matrix(fixed: str, df: pd.DataFrame):
    try:
        dm = fm.design_matrices(fixed, df, env=0, extra_namespace=_NAMESPACE)
    except GLMMInputError:
        raise
    except Exception as exc:
        raise GLMMInputError(f"cannot build the terms '{fixed}': {exc}") from None
    common = dm.common
    if common is None:
        return None, np.zeros((len(df), 0)), []
    X = np.asarray(common.design_matrix, dtype=float)
    try:
        columns = [str(c) for c in common.as_dataframe().columns]
    except Exception as exc:  # formulae cannot label some terms, e.g. nesting 'a/x' among fixed effects
        hint = " Nesting with '/' is for grouping factors; among fixed effects write 'a + a:x'." if "/" in fixed else ""
        raise GLMMInputError(f"cannot build the terms '{fixed}': {exc}.{hint}") from None
    bad = ~np.isfinite(X)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise GLMMInputError(f"term '{columns[j]}' gives non-finite values (inf or NaN) in "
                             f"{int(bad[:, j].sum())} row(s), e.g. log of zero; transform the column first")
    return common, X, columns


def make_design(formula: str, data: pd.DataFrame, family: str | Family = "gaussian",
                link: str | None = None, categorical: list[str] | None = None,
                na_action: str = "error") -> Design:
    """Build the :class:`Design` for ``formula`` on ``data`` (see the module docstring)."""
    fam = family if isinstance(family, Family) else get_family(family)
    link = fam.check_link(link)
    parsed = parse_formula(formula, tuple(map(str, getattr(data, "columns", ()))))
    df, dropped, labels = prepare_data(data, used_columns(parsed), categorical, na_action)
    response = build_response(parsed.response, df, fam)
    _check_response_values(response, fam)
    fixed_matrix, X, X_columns = _fixed_matrix(parsed.fixed, df)
    if fam.name in ("bernoulli", "binomial"):
        _warn_separation(X, X_columns, response)
    _warn_unidentified(X, X_columns)
    if not fam.intercept:
        if "Intercept" not in X_columns:
            raise GLMMInputError(
                f"family '{fam.name}' has no intercept (the cutpoints play its role), and the formula removes "
                f"it too ('0 +' or '- 1'), which changes how categorical predictors are coded. Write the "
                f"formula with its intercept, e.g. '{parsed.response} ~ x + (1 | g)'.")
        j = X_columns.index("Intercept")
        X, X_columns = np.delete(X, j, axis=1), X_columns[:j] + X_columns[j + 1:]
    blocks = _build_blocks(parsed, df, X_columns, fam.eta_names(response))
    offset_matrix, offset = _offsets(parsed, df, fam.eta_names(response))
    return Design(formula, parsed, fam, link, response, X, X_columns, blocks, df, fixed_matrix, dropped,
                  intercept_dropped=not fam.intercept, row_labels=labels, offset=offset,
                  offset_matrix=offset_matrix)


def _offsets(parsed: ParsedFormula, df: pd.DataFrame, eta_names: tuple[str, ...]):
    """formulae's terms of the ``offset(...)`` expressions and their sum per row (None, None without any).
    ``offset(np.log(exposure))`` makes a count model one of rates per unit of exposure, as in lme4 and brms."""
    if not parsed.offsets:
        return None, None
    if eta_names:
        raise GLMMInputError("offset(...) terms are not available for the categorical family (one linear predictor "
                             "per category); leave them out")
    terms = " + ".join(f"I({expr})" for expr in parsed.offsets)
    try:
        matrix, values, _ = _fixed_matrix(f"0 + {terms}", df)
    except GLMMInputError as err:
        raise GLMMInputError(f"{' + '.join(f'offset({e})' for e in parsed.offsets)}: {err}") from None
    if values.shape[1] != len(parsed.offsets):
        raise GLMMInputError(f"the offsets {', '.join(f'offset({e})' for e in parsed.offsets)} must each be one "
                             f"numeric value per row (a numeric column or a transform of one)")
    return matrix, values.sum(axis=1)


def aggregate_design(design: Design, min_ratio: float = 2.0) -> Design | None:
    """Identical Bernoulli (or binomial) rows merged into binomial counts, or None when that saves little.

    Rows with the same fixed-effect row, group levels and group-level columns share one success
    probability, so their Bernoulli likelihoods multiply to a binomial one (up to the constant
    binomial coefficient): the posterior is exactly the same, with one likelihood term per distinct
    row. Returns the aggregated design (family ``binomial``, ``row_map`` from source rows, ``source``
    the per-row design, the source's column means and sds for centring/scaling) when it has at most
    ``1 / min_ratio`` of the rows.

    >>> df = pd.DataFrame({"y": [0, 1, 1, 0, 1, 1], "f": list("aabbbb"), "g": list("xxxyyy")})
    >>> agg = aggregate_design(make_design("y ~ f + (1 | g)", df, family="bernoulli"))
    >>> agg.n, agg.response.y.tolist(), agg.response.trials.tolist()
    (3, [1.0, 1.0, 2.0], [2.0, 1.0, 3.0])
    """
    if design.family.name not in ("bernoulli", "binomial") or design.row_map is not None or not design.n:
        return None
    offset = [] if design.offset is None else [design.offset[:, None]]  # rows merge only with equal offsets
    key = np.column_stack([design.X] + [np.column_stack([b.codes, b.Z]) for b in design.blocks] + offset
                          + [np.zeros((design.n, 0))])
    _, first, row_map = np.unique(key, axis=0, return_index=True, return_inverse=True)
    if len(first) * min_ratio > design.n:
        return None
    row_map = row_map.ravel()
    trials = design.response.trials if design.response.trials is not None else np.ones(design.n)
    response = Response(design.response.name, np.bincount(row_map, weights=design.response.y),
                        np.bincount(row_map, weights=trials), event_level=design.response.event_level)
    blocks = [replace(b, codes=b.codes[first], Z=b.Z[first]) for b in design.blocks]
    return replace(design, family=get_family("binomial"), response=response, X=design.X[first], blocks=blocks,
                   row_map=row_map, source=design, _x_stats=(design.column_means, design.column_sds),
                   offset=None if design.offset is None else design.offset[first])


def _warn_separation(X: np.ndarray, columns: list[str], response: Response) -> None:
    """Warn when a 0/1 design column perfectly separates a binary outcome (complete separation).

    Maximum likelihood then diverges; the posterior stays finite only thanks to the prior,
    which then determines that coefficient's size.
    """
    p = response.y / response.trials if response.trials is not None else response.y
    for j, col in enumerate(columns):
        x = X[:, j]
        if col == "Intercept" or not np.all(np.isin(x, (0.0, 1.0))) or x.min() == x.max():
            continue
        for value in (0.0, 1.0):
            sub = p[x == value]
            if len(sub) and (np.all(sub == 0) or np.all(sub == 1)):
                warn_user(
                    f"'{col}' separates the outcome: every row with {col} = {value:g} has outcome "
                    f"{sub[0]:g}. Its coefficient is not identified by the data and its size is set by "
                    f"the prior (here a weakly informative normal); report it with that caveat, or use "
                    f"a more informative prior for b_{col}.", UserWarning)
                break


def _warn_unidentified(X: np.ndarray, columns: list[str], tol: float = 1e-7) -> None:
    """Warn when a fixed-effect column is a linear combination of the columns before it (a constant next to
    the intercept, a duplicate, a rescaled copy): the data cannot tell their coefficients apart, only the
    priors can. lme4 drops such columns; here the user decides.

    Column j is flagged when, scaled to norm 1, its part outside the span of columns 0..j-1 (|R_jj| of a QR
    decomposition) is below ``tol``. A dependence among the columns holds in every subset of rows, so a
    subset without one clears the whole design (QR of 20,000 rows instead of all); only a flagged subset is
    checked again on every row. Skipped for very large designs (n·k² > 1e10).
    """
    n, k = X.shape
    if k < 2 or n * k * k > 1e10:
        return
    if n > 20_000 and not _dependent_columns(X[np.random.default_rng(0).choice(n, 20_000, replace=False)], tol):
        return
    flagged = [columns[j] for j in _dependent_columns(X, tol)]
    if flagged:
        warn_user(
            f"the fixed-effect column(s) {', '.join(repr(c) for c in flagged)} are linear combinations of the "
            f"columns before them in the formula (a constant next to the intercept, a copy or multiple of another "
            f"predictor, all zeros): the data cannot tell their coefficients apart, so only the priors do. Drop "
            f"them from the formula (lme4 drops them automatically).", UserWarning)


def _dependent_columns(X: np.ndarray, tol: float) -> list[int]:
    """Positions of the columns of ``X`` that are (numerically) linear combinations of the columns before them."""
    k = X.shape[1]
    norms = np.linalg.norm(X, axis=0)
    r = np.zeros(k)  # with more columns than rows, the columns past the n-th are dependent
    diag = np.abs(np.diag(np.linalg.qr(X / np.where(norms == 0, 1.0, norms), mode="r")))
    r[:len(diag)] = diag
    return [j for j in range(k) if norms[j] == 0 or (j > 0 and r[j] < tol)]


def _check_response_values(response: Response, family: Family) -> None:
    y = response.y
    if not np.all(np.isfinite(y)):
        raise GLMMInputError(f"response '{response.name}' has non-finite values")
    family.check(response, family.name)
    if family.needs_trials:
        p = y / response.trials
        constant = np.all(p == 0) or np.all(p == 1)
    else:
        constant = np.all(y == y[0])
    if constant:
        raise GLMMInputError(
            f"response '{response.name}' is constant (every row is {y[0]:g}); there is nothing to model. "
            f"Check the column, the rows selected, or the event level.")
    if response.trials is None and family.needs_trials:
        raise GLMMInputError(f"family '{family.name}' needs 'p(successes, trials) ~ ...'")


def _build_blocks(parsed: ParsedFormula, df: pd.DataFrame, X_columns: list[str],
                  eta_names: tuple[str, ...] = ()) -> list[GroupBlock]:
    blocks: list[GroupBlock] = []
    seen: dict[tuple[str, str], str] = {}
    used_keys: set[str] = set()
    for term in parsed.groups:
        matrix, Z, columns = _fixed_matrix(term.lhs, df)
        if not columns:
            raise GLMMInputError(f"group-level term ({term.lhs} | {term.group}) has no columns")
        codes, levels = _group_codes(df, term)
        if len(levels) < 2:
            raise GLMMInputError(
                f"grouping factor '{term.group}' has only one level ('{levels[0]}'); group-level effects "
                f"need at least two groups. Drop '({term.lhs} | {term.group})' or check the column.")
        for col in columns:
            if (term.group, col) in seen:
                raise GLMMInputError(f"'{col}' varies by '{term.group}' in two group-level terms; "
                                     f"list it in one term only")
            seen[(term.group, col)] = term.lhs
        key = re.sub(r"\W", "_", term.group)
        base, i = key, 2
        while key in used_keys:
            key, i = f"{base}_{i}", i + 1
        used_keys.add(key)
        blocks.append(GroupBlock(term, key, columns, levels, codes, Z, matrix,
                                 {lev: i for i, lev in enumerate(levels)}, eta_names,
                                 _slope_means(columns, Z, eta_names)))
    return blocks


def _slope_means(columns: list[str], Z: np.ndarray, eta_names: tuple[str, ...]) -> np.ndarray | None:
    """Column means of a block with an intercept and slopes (0 at the Intercept); None otherwise.

    >>> _slope_means(["Intercept", "x"], np.array([[1.0, 2.0], [1.0, 4.0]]), ())
    array([0., 3.])
    """
    if eta_names or "Intercept" not in columns or len(columns) < 2:
        return None
    means = Z.mean(axis=0)
    means[columns.index("Intercept")] = 0.0
    return means if np.any(means != 0.0) else None


# ---------------------------------------------------------------- new data
def evaluate_new(design: Design, newdata: pd.DataFrame, groups: bool = True) -> NewDesign:
    """Evaluate the fixed matrix and block columns/codes of ``design`` on ``newdata`` (``groups=False``: no
    codes, and the grouping columns need not be there; each block's codes are then None)."""
    parsed = design.parsed
    needed = {c: w for c, w in used_columns(parsed).items()
              if w != "response" and (groups or not w.startswith("grouping factor"))}
    df = _align_new_data(newdata, needed, design.data)
    raw = newdata.reset_index(drop=True)
    X = _evaluate(design.fixed_matrix, df, len(df)) if design.X_columns else np.zeros((len(df), 0))
    if design.intercept_dropped and design.X_columns:
        X = np.delete(X, 0, axis=1)  # formulae puts the intercept first
    codes, Zs, new_levels = [], [], []
    for block in design.blocks:
        Zs.append(_evaluate(block.matrix, df, len(df)))
        if not groups:
            codes.append(None)
            new_levels.append([])
            continue
        names = _level_names(raw[list(block.term.factors)])
        unseen: dict[str, int] = {}  # each new level its own negative code, so it gets its own effect draw
        code = np.array([block.level_index[name] if name in block.level_index
                         else unseen.setdefault(name, -1 - len(unseen)) for name in names], dtype=np.int64)
        codes.append(code)
        new_levels.append(sorted({n for n, c in zip(names, code) if c < 0}))
    offset = None if design.offset_matrix is None else _evaluate(design.offset_matrix, df, len(df)).sum(axis=1)
    return NewDesign(X, codes, Zs, new_levels, offset)


def _align_new_data(newdata: pd.DataFrame, needed: dict[str, str], train: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(newdata, pd.DataFrame):
        raise GLMMInputError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
    for col, where in needed.items():
        if col not in newdata.columns:
            raise _missing_column_error(col, newdata, f"{where} (needed for prediction)")
    df = newdata[list(needed)].reset_index(drop=True).copy()
    na = df.isna().any(axis=1)
    if na.any():
        raise GLMMInputError(f"newdata has missing values in {int(na.sum())} row(s) of the columns "
                             f"the model uses: {', '.join(df.columns[df.isna().any()])}")
    for col in df.columns:
        if col not in train.columns:
            continue
        if isinstance(train[col].dtype, pd.CategoricalDtype):
            cats = train[col].cat.categories
            try:
                values = df[col].astype(cats.dtype) if cats.dtype != object else df[col].astype(str)
            except (TypeError, ValueError):
                values = df[col].astype(str)
            unseen = sorted(set(map(str, values[~values.isin(cats)])))
            if unseen and not needed[col].startswith("grouping factor"):  # new groups are allowed, new categories not
                raise GLMMInputError(
                    f"newdata column '{col}' has level(s) not seen in fitting: {', '.join(repr(u) for u in unseen[:10])}. The model "
                    f"has no coefficient for them; use one of the fitted levels: "
                    f"{', '.join(map(str, cats[:20]))}.")
            df[col] = pd.Categorical(values, categories=cats)
        elif (pd.api.types.is_numeric_dtype(train[col]) and not pd.api.types.is_numeric_dtype(df[col])
              and not needed[col].startswith("grouping factor")):  # a new group may be named anything
            converted = pd.to_numeric(df[col], errors="coerce")
            bad = df[col][converted.isna()]
            if len(bad):
                raise GLMMInputError(f"newdata column '{col}' must be numeric as in the fitting data, but it holds "
                                     f"{bad.iloc[0]!r} ({len(bad)} such row(s))")
            df[col] = converted
    return df


def _evaluate(matrix, df: pd.DataFrame, n: int) -> np.ndarray:
    try:
        return np.asarray(matrix.evaluate_new_data(df).design_matrix, dtype=float).reshape(n, -1)
    except Exception as exc:
        raise GLMMInputError(f"cannot evaluate the model terms on the new data: {exc}") from None
