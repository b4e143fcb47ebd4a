"""The HTML report: every section, table row and embedded image present; renders in headless Chromium."""

from __future__ import annotations

import base64
import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

import glmm_bayes as gb
from glmm_bayes.cli import main

ARTIFACTS = Path(os.environ.get("GLMM_BAYES_ARTIFACTS", Path(__file__).resolve().parents[1] / "out" / "test-artifacts"))
SAMPLE = dict(draws=150, tune=250, chains=2, progressbar=False, warn=False)


def data(seed=2):
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(8), 15)
    x = rng.normal(size=g.size)
    mu = np.exp(0.8 + 0.5 * x + rng.normal(0, 0.5, 8)[g])
    return pd.DataFrame({"y": rng.negative_binomial(2, 2 / (2 + mu)), "x": x, "g": g})


@pytest.fixture(scope="module")
def report_path(tmp_path_factory):
    df = data()
    fits = {"poisson": gb.GLMM("y ~ x + (1 | g)", df, family="poisson").fit(seed=1, **SAMPLE),
            "negbin": gb.GLMM("y ~ x + (1 + x | g)", df, family="negativebinomial").fit(seed=1, **SAMPLE)}
    return gb.report(fits, tmp_path_factory.mktemp("report") / "report.html"), fits


def test_report_has_every_section(report_path):
    path, fits = report_path
    soup = BeautifulSoup(path.read_text(), "html.parser")
    assert soup.find("section", id="comparison") is not None
    rows = soup.find("table", class_="comparison").find_all("tr")
    assert len(rows) == 1 + 2
    assert "better than" in soup.find("section", id="comparison").get_text()
    for name, fit in fits.items():
        section = soup.find("section", id=f"model-{name}")
        assert section is not None and fit.model.spec.formula in section.get_text()
        priors = section.find("table", class_="priors").find_all("tr")
        assert len(priors) == 1 + len(fit.model.priors)
        summary = section.find("table", class_="summary").find("tbody").find_all("tr")
        assert [r.find("th").get_text() for r in summary] == list(fit.summary().index)
        badges = section.select("table.diagnostics .badge")
        assert len(badges) == 5 and all(b.get_text() in ("pass", "fail") for b in badges)
        images = section.find_all("img")
        n_effects = sum(len(b.columns) for b in fit.model.design.blocks)
        assert len(images) == n_effects + 3  # caterpillars + PPC + LOO-PIT + Pareto k
        for img in images:
            assert img["src"].startswith("data:image/png;base64,")
            assert base64.b64decode(img["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "http://" not in path.read_text() and "https://" not in path.read_text()  # self-contained


def test_report_renders_in_headless_chromium(report_path):
    chromium, driver_bin = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_bin):
        pytest.skip("Debian chromium/chromium-driver not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    path, fits = report_path
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--window-size=1200,2000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_bin), options=options)
    try:
        driver.get(path.resolve().as_uri())
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        assert driver.execute_script("return document.images.length") == len(
            BeautifulSoup(path.read_text(), "html.parser").find_all("img"))
        # every image decoded (naturalWidth > 0)
        assert driver.execute_script("return Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "report.png"))
    finally:
        driver.quit()


def test_fit_html_repr(report_path):
    _, fits = report_path
    html = fits["poisson"]._repr_html_()
    assert "<table" in html and "b_x" in html and "R-hat" in html


def test_cli_report_and_compare_report(tmp_path):
    data().to_csv(tmp_path / "d.csv", index=False)
    for fam in ("poisson", "negativebinomial"):
        (tmp_path / f"{fam}.toml").write_text(
            f'name = "{fam}"\nformula = "y ~ x + (1 | g)"\nfamily = "{fam}"\ndata = "d.csv"\n')
    args = [str(tmp_path / "poisson.toml"), str(tmp_path / "negativebinomial.toml"), "--draws", "100",
            "--tune", "150", "--chains", "2", "--seed", "1", "--no-progress"]
    assert main(["report", *args, "--out", str(tmp_path / "r.html")]) == 0
    assert BeautifulSoup((tmp_path / "r.html").read_text(), "html.parser").find("section", id="comparison")
    assert main(["compare", *args, "--out", str(tmp_path / "c"), "--report", str(tmp_path / "c.html")]) == 0
    assert (tmp_path / "c" / "compare.csv").is_file() and (tmp_path / "c.html").is_file()
