"""glmm_bayes.parallel: jobs in order on each executor, and a clear message when workers cannot start.

The LocalCluster path with real fits is ``test_compare.py::test_grouped_kfold_on_a_real_local_cluster``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from glmm_bayes.errors import GLMMInputError
from glmm_bayes.parallel import map_jobs

UNGUARDED = """
from glmm_bayes.parallel import map_jobs
print(map_jobs(abs, [-1, 2, -3], executor={executor!r}, n_workers=1))
"""


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_results_come_back_in_input_order(executor):
    assert map_jobs(abs, [-1, 2, -3, 4], executor=executor, n_workers=2) == [1, 2, 3, 4]


def test_unknown_executor_is_refused():
    with pytest.raises(GLMMInputError, match="executor must be one of"):
        map_jobs(abs, [1], executor="threads")


@pytest.mark.parametrize("executor", ["processes", "dask"])
def test_a_script_without_a_main_guard_gets_told_why_its_workers_failed(tmp_path, executor):
    """Spawned workers import the script and run its top level again, which starts workers of its own and
    fails; distributed only says "Nanny failed to start." The user gets the cause and two ways out."""
    script = tmp_path / "analysis.py"
    script.write_text(UNGUARDED.format(executor=executor))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("glmm_bayes.errors.GLMMInputError"), proc.stderr[-2000:]
    for fragment in ("analysis.py", 'if __name__ == "__main__":', 'executor="serial"'):
        assert fragment in last, last
    guarded = tmp_path / "guarded.py"
    guarded.write_text("if __name__ == '__main__':\n" + "".join(f"    {line}\n" for line in
                                                             UNGUARDED.format(executor=executor).strip().splitlines()))
    proc = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[1, 2, 3]"
