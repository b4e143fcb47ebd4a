"""``ModelSpec``: a model as plain data (formula, family, link, priors, data source, sampler).

Spec files are TOML (``models/*.toml``, DESIGN.md §2). Loading one never
executes code: the formula is checked against an allow-list of functions
(:func:`glmm_bayes.design.check_safe`) and priors are parsed by a grammar.

Example
-------
>>> spec = ModelSpec.from_toml_string('''
... name = "cbpp"
... formula = "p(incidence, size) ~ period + (1 | herd)"
... family = "binomial"
... categorical = ["period"]
... [priors]
... sd = "half_normal(3)"
... [sampler]
... draws = 500
... ''')
>>> spec.family, spec.priors, spec.sampler["draws"]
('binomial', {'sd': 'half_normal(3)'}, 500)
>>> ModelSpec.from_toml_string(spec.to_toml()) == spec
True
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from glmm_bayes.errors import GLMMInputError
from glmm_bayes.inference import ADAPTATIONS

SAMPLER_KEYS = {"draws": int, "tune": int, "chains": int, "seed": int, "backend": str,
                "target_accept": float, "adaptation": str}
SPEC_KEYS = {"name", "formula", "family", "link", "data", "categorical", "priors", "sampler",
             "na_action", "description", "parameterization"}


@dataclass
class ModelSpec:
    """A model as data. ``data`` is a CSV path (relative to the spec file) or ``"builtin:NAME"``."""

    formula: str
    family: str = "gaussian"
    link: str | None = None
    priors: dict[str, str] = field(default_factory=dict)
    categorical: list[str] = field(default_factory=list)
    data: str | None = None
    name: str = "model"
    sampler: dict = field(default_factory=dict)
    na_action: str = "error"
    description: str = ""
    parameterization: str | dict = "auto"  # group-level effects: one of builder.PARAMETERIZATIONS, or by group
    source: str | None = field(default=None, compare=False)  # the file it came from

    def __post_init__(self):
        for key in ("name", "description", "na_action"):
            if not isinstance(getattr(self, key), str):
                raise GLMMInputError(f"spec: '{key}' must be a string, got {getattr(self, key)!r}")
        for key in ("link", "data"):
            if getattr(self, key) is not None and not isinstance(getattr(self, key), str):
                raise GLMMInputError(f"spec '{self.name}': '{key}' must be a string, got {getattr(self, key)!r}"
                                     + (" (a CSV path relative to the spec file, or \"builtin:NAME\")"
                                        if key == "data" else ""))
        if not isinstance(self.formula, str) or "~" not in self.formula:
            raise GLMMInputError(f"spec '{self.name}': 'formula' must be a string like 'y ~ x + (1 | g)', "
                                 f"got {self.formula!r}")
        from glmm_bayes.design import check_safe, normalise_formula

        check_safe(normalise_formula(self.formula))  # columns unknown yet: dotted names are checked with the data
        if not isinstance(self.family, str):
            raise GLMMInputError(f"spec '{self.name}': 'family' must be a string, got {self.family!r}")
        if not isinstance(self.priors, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.priors.items()):
            raise GLMMInputError(f"spec '{self.name}': [priors] must map keys to strings like "
                                 f"'normal(0, 2.5)', got {self.priors!r}")
        if isinstance(self.categorical, str) or not all(isinstance(c, str) for c in self.categorical):
            raise GLMMInputError(f"spec '{self.name}': 'categorical' must be a list of column names, "
                                 f"got {self.categorical!r}")
        self.categorical = list(self.categorical)
        self.sampler = check_sampler(self.sampler, f"spec '{self.name}'")
        from glmm_bayes.builder import PARAMETERIZATIONS

        values = self.parameterization.values() if isinstance(self.parameterization, dict) else [self.parameterization]
        if not all(isinstance(v, str) and v in PARAMETERIZATIONS for v in values):
            raise GLMMInputError(f"spec '{self.name}': parameterization must be one of "
                                 f"{', '.join(PARAMETERIZATIONS)} (or a table of them by grouping factor), got "
                                 f"{self.parameterization!r}")

    # ---------------------------------------------------------- TOML
    @classmethod
    def from_dict(cls, raw: dict, source: str | None = None) -> "ModelSpec":
        unknown = set(raw) - SPEC_KEYS
        where = f"spec file {source}" if source else "spec"
        if unknown:
            raise GLMMInputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                 f"allowed keys: {', '.join(sorted(SPEC_KEYS))}")
        if "formula" not in raw:
            raise GLMMInputError(f"{where}: missing the required key 'formula'")
        spec = cls(**{k: v for k, v in raw.items()})
        spec.source = source
        return spec

    @classmethod
    def from_toml_string(cls, text: str, source: str | None = None) -> "ModelSpec":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise GLMMInputError(f"spec file {source or ''} is not valid TOML: {exc}") from None
        return cls.from_dict(raw, source)

    @classmethod
    def load(cls, path: str | Path) -> "ModelSpec":
        """Read a spec file (TOML)."""
        path = Path(path)
        if not path.is_file():
            raise GLMMInputError(f"spec file '{path}' does not exist")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise GLMMInputError(f"spec file '{path}' is not UTF-8 text (TOML files must be UTF-8): {exc.reason} at "
                                 f"byte {exc.start}; save it as UTF-8") from None
        return cls.from_toml_string(text, source=str(path))

    def to_dict(self) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "source"}
        if out.get("parameterization") == "auto":
            out.pop("parameterization")
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}

    def to_toml(self) -> str:
        """Serialise as TOML (JSON string quoting is valid TOML for basic strings)."""
        d = self.to_dict()
        lines = []
        for key in ("name", "description", "formula", "family", "link", "data", "na_action", "parameterization"):
            if key in d and not isinstance(d[key], dict):
                lines.append(f"{key} = {json.dumps(d[key])}")
        if "categorical" in d:
            lines.append(f"categorical = {json.dumps(d['categorical'])}")
        for table in ("priors", "sampler", "parameterization"):
            if table in d and isinstance(d[table], dict):
                lines.append(f"\n[{table}]")
                lines.extend(f"{json.dumps(k) if not k.isidentifier() else k} = {json.dumps(v)}"
                             for k, v in d[table].items())
        return "\n".join(lines) + "\n"

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())

    # ---------------------------------------------------------- data
    def load_data(self) -> pd.DataFrame:
        """Read the data the spec names: ``builtin:NAME[?seed=S]`` or a CSV path relative to the spec."""
        if not self.data:
            raise GLMMInputError(f"spec '{self.name}' names no data; add data = \"path/to/file.csv\" "
                                 f"or data = \"builtin:hospital\"")
        if self.data.startswith("builtin:"):
            from glmm_bayes import datasets

            name, _, query = self.data[len("builtin:"):].partition("?")
            seed = None
            if query:
                key, _, value = query.partition("=")
                if key != "seed" or not value.isdigit():
                    raise GLMMInputError(f"builtin data '{self.data}': only '?seed=N' is understood")
                seed = int(value)
            return datasets.load(name, seed=seed)
        path = Path(self.data)
        if not path.is_absolute() and self.source:
            path = Path(self.source).parent / path
        if path.is_dir():
            raise GLMMInputError(f"data '{path}' named by spec '{self.name}' is a directory; name a CSV file in it")
        if not path.is_file():
            raise GLMMInputError(f"data file '{path}' named by spec '{self.name}' does not exist")
        try:
            data = pd.read_csv(path)
        except Exception as exc:
            raise GLMMInputError(f"cannot read data file '{path}' as CSV: {exc}") from None
        if len(data.columns) == 1 and any(sep in str(data.columns[0]) for sep in ("\t", ";")):
            raise GLMMInputError(f"data file '{path}' reads as a single column '{data.columns[0]}': it looks "
                                 f"separated by tabs or semicolons, but data files must be comma-separated CSV")
        return data


def check_sampler(sampler: dict, where: str) -> dict:
    """Validate a ``[sampler]`` table (draws, tune, chains, seed, backend, target_accept, adaptation)."""
    if not isinstance(sampler, dict):
        raise GLMMInputError(f"{where}: [sampler] must be a table")
    out = {}
    for key, value in sampler.items():
        if key not in SAMPLER_KEYS:
            raise GLMMInputError(f"{where}: unknown sampler setting '{key}'; allowed: "
                                 f"{', '.join(SAMPLER_KEYS)}")
        kind = SAMPLER_KEYS[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise GLMMInputError(f"{where}: sampler setting '{key}' must be a whole number, got {value!r}")
        if kind is float and not isinstance(value, (int, float)):
            raise GLMMInputError(f"{where}: sampler setting '{key}' must be a number, got {value!r}")
        if kind is str and not isinstance(value, str):
            raise GLMMInputError(f"{where}: sampler setting '{key}' must be a string, got {value!r}")
        if key == "adaptation" and value not in ADAPTATIONS:
            raise GLMMInputError(f"{where}: sampler setting 'adaptation' must be one of {', '.join(ADAPTATIONS)}, "
                                 f"got {value!r}")
        out[key] = value
    return out
