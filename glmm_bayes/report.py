"""A self-contained HTML report of one or more fits (figures embedded as PNG, no network needed).

Per model: spec (formula, family, link), priors table, convergence diagnostics with
pass/fail badges, parameter summary, random-effects caterpillar, posterior
predictive check, LOO-PIT and Pareto-k plots; across models: the LOO comparison
table with stacking weights and its plain-language reading. Rendered with Jinja2.

Example
-------
>>> # report({"poisson": fit1, "negbin": fit2}, "report.html")
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import re
import warnings
from pathlib import Path

from glmm_bayes.errors import GLMMInputError


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figures(fit) -> list[dict]:
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for block in fit.model.design.blocks:
            for column in block.coef_names:
                out.append({"caption": f"Group-level effects: {column} by {block.label}",
                            "png": _png(fit.caterpillar(block.label, column))})
        out.append({"caption": "Posterior predictive check", "png": _png(fit.plot_ppc())})
        if not fit.model.design.family.nominal:  # PIT values need ordered outcomes
            out.append({"caption": "LOO-PIT calibration", "png": _png(fit.plot_loo_pit())})
        out.append({"caption": "PSIS-LOO Pareto k per observation", "png": _png(fit.plot_khat())})
    return out


def _model_context(name: str, fit) -> dict:
    d = fit.model.design
    post = fit.posterior
    return {
        "name": name, "slug": re.sub(r"\W+", "-", name).strip("-").lower(), "formula": fit.model.spec.formula,
        "family": d.family.name, "link": d.link, "n": d.n, "backend": fit.backend or "?",
        "chains": post.sizes["chain"], "draws": post.sizes["draw"], "seconds": fit.seconds,
        "priors_html": fit.model.priors.to_html(index=False, classes="priors", border=0),
        "diagnostics": fit.diagnostics.table().to_dict("records"),
        "messages": fit.diagnostics.messages,
        "summary_html": fit.summary().round(3).to_html(classes="summary", border=0, na_rep="–"),
        "figures": _figures(fit),
        "environment": ", ".join(f"{k} {v}" for k, v in fit.environment.items() if k != "platform"),
        "seed": fit.idata.attrs.get("glmm_seed", "?"),
    }


def render(fits: dict, comparison=None, title: str = "glmm_bayes report", comparison_note: str | None = None) -> str:
    """The report as an HTML string (``comparison_note``: why there is no comparison)."""
    import jinja2

    from glmm_bayes import __version__

    env = jinja2.Environment(loader=jinja2.PackageLoader("glmm_bayes", "templates"),
                             autoescape=jinja2.select_autoescape(["html", "j2"]))
    template = env.get_template("report.html.j2")
    models = [_model_context(name, fit) for name, fit in fits.items()]
    comp = None
    if comparison is not None:
        comp = {"table_html": jinja2.utils.markupsafe.Markup(
                    comparison.table.round(3).to_html(index=False, classes="comparison", border=0)),
                "reading": comparison.reading}
    for m in models:
        for key in ("priors_html", "summary_html"):
            m[key] = jinja2.utils.markupsafe.Markup(m[key])
    return template.render(title=title, models=models, comparison=comp, comparison_note=comparison_note,
                           version=__version__,
                           created=_dt.datetime.now().strftime("%Y-%m-%d %H:%M"))


def report(fits, path: str | Path, comparison=None, title: str = "glmm_bayes report") -> Path:
    """Write a self-contained HTML report of ``fits`` (a Fit or a dict name -> Fit) to ``path``.

    With two or more fits and no ``comparison`` given, the LOO comparison is computed; when the models cannot
    be compared (different observations) the report says why instead.
    """
    from glmm_bayes.compare import compare
    from glmm_bayes.fit import Fit

    if isinstance(fits, Fit):
        fits = {fits.model.spec.name: fits}
    if not isinstance(fits, dict) or not fits:
        raise GLMMInputError("report needs a Fit or a dict of name -> Fit")
    note = None
    if comparison is None and len(fits) >= 2:
        try:
            comparison = compare(fits)
        except GLMMInputError as exc:  # e.g. models of different outcomes: report them, say why not compared
            note = str(exc)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(fits, comparison, title, note), encoding="utf-8")
    return path
