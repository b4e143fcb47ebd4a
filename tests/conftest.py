"""Shared fixtures: paths to ../shared, reference JSON loading, quiet sampling defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GLMM_BAYES_SHARED", ROOT.parent / "shared"))
DATA = SHARED / "data"
REFERENCE = SHARED / "reference"


def reference(case: str) -> dict:
    path = REFERENCE / f"{case}.json"
    if not path.is_file():
        pytest.skip(f"reference {path} not available")
    return json.loads(path.read_text())


def dataset(name: str) -> pd.DataFrame:
    path = DATA / name
    if not path.is_file():
        pytest.skip(f"dataset {path} not available")
    return pd.read_csv(path)
