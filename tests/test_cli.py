"""The glmm-bayes command line, end to end in a temporary folder (real sampling, small draws)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import glmm_bayes as gb
from glmm_bayes.cli import main

SPEC = """
name = "toy"
formula = "y ~ x + (1 | g)"
family = "{family}"
data = "toy.csv"

[priors]
b = "normal(0, 5)"

[sampler]
draws = 150
tune = 200
chains = 2
seed = 3
"""


@pytest.fixture
def workdir(tmp_path):
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(6), 12)
    x = rng.normal(size=g.size)
    eta = 0.3 + 0.8 * x + rng.normal(0, 0.6, 6)[g]
    pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "g": g}).to_csv(tmp_path / "toy.csv", index=False)
    (tmp_path / "toy.toml").write_text(SPEC.format(family="poisson"))
    (tmp_path / "toy_nb.toml").write_text(SPEC.format(family="negativebinomial").replace('"toy"', '"toy_nb"'))
    return tmp_path


def test_fit_writes_posterior_and_summary(workdir, capsys):
    out = workdir / "out"
    code = main(["fit", str(workdir / "toy.toml"), "--out", str(out), "--draws", "120", "--seed", "5",
                 "--no-progress"])
    assert code == 0
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["param", "mean", "sd", "q2.5", "q97.5", "ess_bulk", "ess_tail", "r_hat",
                                     "mcse_mean"]
    assert list(summary["param"]) == ["b_Intercept", "b_x", "sd_g__Intercept"]
    fit = gb.load(out / "posterior.nc")
    assert fit.posterior.sizes["draw"] == 120 and fit.posterior.sizes["chain"] == 2  # flag beat [sampler]
    np.testing.assert_allclose(fit.summary()["mean"].to_numpy(), summary["mean"].to_numpy())
    printed = capsys.readouterr().out
    assert "b_x" in printed and "R-hat" in printed


def test_compare_writes_table(workdir):
    out = workdir / "cmp"
    code = main(["compare", str(workdir / "toy.toml"), str(workdir / "toy_nb.toml"), "--out", str(out),
                 "--no-progress"])
    assert code == 0
    table = pd.read_csv(out / "compare.csv")
    assert list(table.columns) == ["model", "elpd_loo", "se", "elpd_diff", "dse", "p_loo", "weight",
                                   "n_high_pareto_k"]
    assert set(table["model"]) == {"toy", "toy_nb"}
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("args,needle", [
    (["fit", "nope.toml"], "does not exist"),
    (["fit", "{dir}/toy.toml", "--draws", "lots"], "invalid int value"),
    (["fit", "{dir}/toy.toml", "--backend", "stan"], "invalid choice"),
    (["fit", "{dir}/bad.toml"], "column 'z'"),
    (["fit", "{dir}/toy.toml", "--chains", "0"], "chains must be"),
    (["frobnicate"], "invalid choice"),
    (["fit", "{dir}/data5.toml"], "'data' must be a string"),
    (["fit", "{dir}/utf16.toml"], "is not UTF-8 text"),
    (["fit", "{dir}/tabs.toml"], "separated by tabs or semicolons"),
    (["fit", "{dir}/dir.toml"], "is a directory"),
    (["compare", "{dir}/toy.toml"], "'glmm-bayes compare' needs at least 2 spec files"),
    # every spec is checked before any sampling: the bad second spec fails in seconds, nothing is written
    (["report", "{dir}/toy.toml", "{dir}/bad.toml", "--out", "{dir}/r.html"], "column 'z'"),
])
def test_user_errors_exit_2_without_traceback(workdir, args, needle):
    (workdir / "bad.toml").write_text(SPEC.format(family="poisson").replace("y ~ x", "y ~ z"))
    (workdir / "data5.toml").write_text(SPEC.format(family="poisson").replace('data = "toy.csv"', "data = 5"))
    (workdir / "utf16.toml").write_bytes(SPEC.format(family="poisson").encode("utf-16"))
    (workdir / "tabs.csv").write_text("y\tx\tg\n1\t0.5\ta\n")
    (workdir / "tabs.toml").write_text(SPEC.format(family="poisson").replace("toy.csv", "tabs.csv"))
    (workdir / "dir.toml").write_text(SPEC.format(family="poisson").replace("toy.csv", "."))
    args = [a.format(dir=workdir) for a in args]
    proc = subprocess.run([sys.executable, "-m", "glmm_bayes.cli", *args], capture_output=True, text=True,
                          cwd=workdir)
    assert proc.returncode == 2, proc.stderr
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (workdir / "r.html").exists()


def test_every_spec_is_checked_before_sampling(workdir, monkeypatch):
    """A mistake in the last spec of 'report' / 'compare' costs no sampling of the ones before it."""
    (workdir / "bad.toml").write_text(SPEC.format(family="poisson").replace("y ~ x", "y ~ z"))
    calls = []
    monkeypatch.setattr(gb.GLMM, "fit", lambda self, **kw: calls.append(kw))
    assert main(["report", str(workdir / "toy.toml"), str(workdir / "bad.toml"), "--out", "r.html"]) == 2
    assert calls == []


def test_console_script_installed():
    exe = Path(sys.executable).with_name("glmm-bayes")
    proc = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "fit" in proc.stdout


def test_spec_sampler_sets_adaptation(workdir, monkeypatch):
    """`adaptation` in [sampler] reaches nutpie (spied on, the real sampler runs); a fit() argument wins."""
    from glmm_bayes import inference

    seen = []
    real = inference._sample_nutpie

    def spy(*args, **kwargs):
        seen.append(args[-1] if len(args) == 9 else kwargs.get("adaptation"))
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "_sample_nutpie", spy)
    text = (workdir / "toy.toml").read_text().replace("seed = 3", 'seed = 3\nadaptation = "low_rank"')
    (workdir / "toy_lr.toml").write_text(text)
    model = gb.GLMM.from_spec(gb.ModelSpec.load(workdir / "toy_lr.toml"))
    model.fit(draws=50, tune=50, progressbar=False, warn=False)
    model.fit(draws=50, tune=50, progressbar=False, warn=False, adaptation="diag")
    assert seen == ["low_rank", "diag"]
