"""Every row of the bad-input catalogue (tests/bad_input_catalogue.py) and the document made from it.

Each case must raise ``GLMMInputError`` (CLI cases: exit code 2 with the message on
stderr) whose message contains the row's fragment and reads as plain words: no
traceback, no PyTensor or formulae internals, no NumPy reprs. ``docs/bad_inputs.md``
must be exactly what ``python tests/bad_input_catalogue.py`` writes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bad_input_catalogue import AREAS, CASES, CLIUserError, markdown, normalise
from glmm_bayes.errors import GLMMInputError

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad_inputs.md"
INTERNALS = ("Traceback", "pytensor", "formulae.", "np.float64(", "np.int64(", "array(", "dtype=",
             "<class ", " object at 0x")


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case_raises_glmm_input_error_naming_the_problem(case):
    with pytest.raises(GLMMInputError) as info:
        case.call()
    message = normalise(str(info.value))
    assert message, f"{case.id}: empty message"
    assert case.fragment.lower() in message.lower(), f"{case.id}: {case.fragment!r} not in: {message}"
    for internal in INTERNALS:
        assert internal.lower() not in message.lower(), f"{case.id}: message shows {internal!r}: {message}"
    if isinstance(info.value, CLIUserError):
        assert info.value.exit_code == 2
        assert info.value.stderr.startswith("glmm-bayes: error: "), info.value.stderr
        assert info.value.stderr.strip().count("\n") == 0, "the CLI message should be one paragraph"


def test_catalogue_is_well_formed():
    ids = Counter(c.id for c in CASES)
    assert not [i for i, n in ids.items() if n > 1], "duplicate case ids"
    assert len(CASES) >= 40
    assert {c.area for c in CASES} == set(AREAS), "every area has cases, and no case has another area"
    assert all(c.fragment and c.did for c in CASES)


def test_doc_is_what_the_generator_writes():
    """Regenerate with: .venv/bin/python tests/bad_input_catalogue.py > docs/bad_inputs.md"""
    assert DOC.is_file(), f"{DOC} is missing; generate it with python tests/bad_input_catalogue.py"
    assert DOC.read_text() == markdown(), (
        "docs/bad_inputs.md is stale; regenerate it: .venv/bin/python tests/bad_input_catalogue.py "
        "> docs/bad_inputs.md")
