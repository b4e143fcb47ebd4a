"""Example notebooks (``notebooks/*.ipynb``) and model spec files (``models/*.toml``).

* Every notebook runs top to bottom without an error, executed with nbclient in ``notebooks/`` with
  few draws (the notebooks read ``GLMM_BAYES_NB_DRAWS``, ``GLMM_BAYES_NB_TUNE`` and
  ``GLMM_BAYES_NB_CHAINS``). The executed copy is discarded: the committed outputs are not touched.
* Every committed notebook is smaller than 2 MB and carries its outputs (all code cells executed, in
  order, without errors).
* Every spec file parses and builds a GLMM (no sampling), and ``models/README.md`` lists it.

The execution tests need ``nbclient``, ``nbformat`` and ``ipykernel`` and are skipped without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import glmm_bayes as gb
from glmm_bayes.errors import GLMMInputError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
SPECS = sorted((ROOT / "models").glob("*.toml"))
EXPECTED_NOTEBOOKS = {
    "01_remission_random_slopes.ipynb",
    "02_tumour_counts_overdispersion.ipynb",
    "03_paired_binary_spinal.ipynb",
    "04_real_data_lme4_classics.ipynb",
}
TEST_ENV = {"GLMM_BAYES_NB_DRAWS": "100", "GLMM_BAYES_NB_TUNE": "150", "GLMM_BAYES_NB_CHAINS": "2"}
CELL_TIMEOUT_S = 900
MAX_NOTEBOOK_BYTES = 2_000_000


def test_the_example_notebooks_are_all_there():
    assert EXPECTED_NOTEBOOKS <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_without_error(path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    for key, value in TEST_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GLMM_BAYES_NB_OUT", raising=False)  # notebook 02 then writes its report to a temp dir
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()  # raises CellExecutionError (with the cell and traceback) on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_is_small_and_has_outputs(path):
    size = path.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{path.name} is {size / 1e6:.2f} MB (limit 2 MB): shrink its figures"
    nb = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code, f"{path.name} has no code cells"
    counts = [c.get("execution_count") for c in code]
    assert all(n is not None for n in counts), f"{path.name}: some code cells were not executed: {counts}"
    assert counts == list(range(1, len(code) + 1)), \
        f"{path.name}: cells were not executed once, top to bottom, in a fresh kernel: {counts}"
    errors = [o.get("ename") for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, f"{path.name}: committed outputs contain errors {errors}"
    assert any(c.get("outputs") for c in code), f"{path.name}: no outputs committed"


def test_every_spec_is_listed_in_the_models_readme():
    readme = (ROOT / "models" / "README.md").read_text(encoding="utf-8")
    missing = [p.name for p in SPECS if p.name not in readme]
    assert not missing, f"models/README.md does not mention {missing}"


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_spec_parses_and_builds(path):
    spec = gb.ModelSpec.load(path)
    assert spec.name == path.stem
    try:
        data = spec.load_data()
    except GLMMInputError as exc:
        if "shared" in str(spec.data) and "does not exist" in str(exc):
            pytest.skip(f"{spec.data} not available")
        raise
    model = gb.GLMM.from_spec(spec, data)
    assert model.design.n == len(data)
    assert not model.priors.empty
