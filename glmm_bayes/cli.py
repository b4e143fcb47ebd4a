"""The ``glmm-bayes`` command line (DESIGN.md §2).

``glmm-bayes fit SPEC.toml [--out DIR] [--draws N] [--tune N] [--chains N] [--seed S] [--backend B]``
writes ``DIR/posterior.nc`` and ``DIR/summary.csv`` and prints the summary and diagnostics.
``glmm-bayes compare SPEC ... [--out DIR] [--report FILE.html]`` writes ``DIR/compare.csv``.
``glmm-bayes report SPEC ... --out report.html`` writes a self-contained HTML report.
``glmm-bayes demo`` fits the built-in hospital remission model and prints it next to the truth.

Exit codes: 0 success, 2 user error (one paragraph, no traceback), 1 internal failure.

Example
-------
$ glmm-bayes fit models/sleepstudy.toml --out out/sleep --draws 500 --seed 1
"""

from __future__ import annotations

import argparse
import sys
import traceback
import warnings
from pathlib import Path

import pandas as pd

from glmm_bayes.errors import GLMMInputError

SUMMARY_CSV_COLUMNS = ["mean", "sd", "q2.5", "q97.5", "ess_bulk", "ess_tail", "r_hat", "mcse_mean"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as a user error (exit 2) in our own words."""

    def error(self, message):
        command = " ".join(["glmm-bayes", *self.prog.split()[1:]])  # "glmm-bayes" or "glmm-bayes fit"
        raise GLMMInputError(f"{message}. Run '{command} --help' for usage.")


def _add_sampler_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--draws", type=int, help="posterior draws per chain (overrides the spec)")
    p.add_argument("--tune", type=int, help="warm-up iterations per chain")
    p.add_argument("--chains", type=int, help="number of chains")
    p.add_argument("--seed", type=int, help="random seed (same seed, same draws)")
    p.add_argument("--backend", choices=["nutpie", "numpyro", "pymc"], help="NUTS implementation")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def make_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="glmm-bayes", allow_abbrev=False, description="Bayesian GLMMs on PyMC from declarative TOML specs.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("fit", allow_abbrev=False, help="fit one model spec; write posterior.nc and summary.csv")
    p.add_argument("spec", help="model spec file (TOML)")
    p.add_argument("--out", default=None, help="output folder (default: out/<spec name>)")
    _add_sampler_flags(p)
    p = sub.add_parser("compare", allow_abbrev=False, help="fit several specs and compare them by PSIS-LOO")
    p.add_argument("specs", nargs="+", help="model spec files (TOML)")
    p.add_argument("--out", default="out/compare", help="output folder for compare.csv")
    p.add_argument("--report", default=None, help="also write an HTML report to this file")
    _add_sampler_flags(p)
    p = sub.add_parser("report", allow_abbrev=False, help="fit one or more specs and write a self-contained HTML report")
    p.add_argument("specs", nargs="+", help="model spec files (TOML)")
    p.add_argument("--out", default="report.html", help="HTML file to write")
    _add_sampler_flags(p)
    p = sub.add_parser("demo", allow_abbrev=False, help="fit the built-in hospital remission model and compare with the truth")
    p.add_argument("--draws", type=int, default=1000, help="posterior draws per chain (default 1000)")
    p.add_argument("--tune", type=int, default=1000, help="warm-up iterations per chain (default 1000)")
    p.add_argument("--chains", type=int, default=4, help="number of chains (default 4)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the data and the sampler (default 1)")
    p.add_argument("--backend", choices=["nutpie", "numpyro", "pymc"], default=None,
                   help="NUTS implementation (default nutpie)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _sampler_overrides(args) -> dict:
    keys = ("draws", "tune", "chains", "seed", "backend")
    return {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}


def write_summary_csv(fit, path: Path) -> pd.DataFrame:
    """``summary.csv``: first column ``param``, then DESIGN.md's columns."""
    table = fit.summary(prob=0.95)[SUMMARY_CSV_COLUMNS]
    table.reset_index().to_csv(path, index=False)
    return table


def fit_spec(spec_path: str, overrides: dict, progress: bool):
    from glmm_bayes.glmm import GLMM
    from glmm_bayes.spec import ModelSpec

    spec = ModelSpec.load(spec_path)
    model = GLMM.from_spec(spec)
    return model.fit(progressbar=progress, warn=False, **overrides)  # the diagnostics are printed instead


def cmd_fit(args) -> int:
    from glmm_bayes.spec import ModelSpec

    spec = ModelSpec.load(args.spec)
    out = Path(args.out or Path("out") / spec.name)
    fit = fit_spec(args.spec, _sampler_overrides(args), not args.no_progress)
    out.mkdir(parents=True, exist_ok=True)
    fit.save(out / "posterior.nc")
    table = write_summary_csv(fit, out / "summary.csv")
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(f"{spec.name}: {spec.formula}  [{fit.model.design.family.name}, {fit.model.design.link}]")
        print(table.round(3).to_string())
    print(fit.diagnostics)
    print(f"wrote {out / 'posterior.nc'} and {out / 'summary.csv'}")
    return 0


def cmd_compare(args) -> int:
    from glmm_bayes.compare import compare

    fits = _fit_specs(args.specs, args, at_least=2, same_observations=True)
    result = compare(fits)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result.table.to_csv(out / "compare.csv", index=False)
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(result.table.round(2).to_string(index=False))
    print(result.reading)
    print(f"wrote {out / 'compare.csv'}")
    if args.report:
        from glmm_bayes.report import report

        report(fits, args.report, comparison=result)
        print(f"wrote {args.report}")
    return 0


def _fit_specs(paths: list[str], args, at_least: int = 1, same_observations: bool = False) -> dict:
    """Fit every spec, by name (a repeated name becomes the file's stem). All specs are read and their models
    built (every input check; with ``same_observations`` also that LOO can compare them) before the first
    sampling, so a mistake in the last spec costs no sampling."""
    from glmm_bayes.compare import check_same_outcomes
    from glmm_bayes.glmm import GLMM
    from glmm_bayes.spec import ModelSpec

    if len(paths) < at_least:
        raise GLMMInputError(f"'glmm-bayes {args.command}' needs at least {at_least} spec files, got {len(paths)}")
    models = {}
    for path in paths:
        spec = ModelSpec.load(path)
        models[spec.name if spec.name not in models else Path(path).stem] = GLMM.from_spec(spec)
    if same_observations:
        check_same_outcomes({name: model.design for name, model in models.items()})
    fits = {name: model.fit(progressbar=not args.no_progress, warn=False, **_sampler_overrides(args))
            for name, model in models.items()}
    for name, fit in fits.items():  # each model's convergence problems, once, in the diagnostics' words
        if fit.diagnostics.messages:
            print(f"{name}: {fit.diagnostics}")
    return fits


def cmd_report(args) -> int:
    from glmm_bayes.report import report

    fits = _fit_specs(args.specs, args)
    path = report(fits, args.out)
    print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    from glmm_bayes import datasets
    from glmm_bayes.glmm import GLMM

    data = datasets.hospital(seed=args.seed)
    formula = datasets.HOSPITAL_FORMULAS["remission"]
    print(f"Built-in hospital data: {len(data)} patients, {data['DID'].nunique()} doctors.")
    print(f"Model: {formula}  (bernoulli, logit link)\n")
    model = GLMM(formula, data, family="bernoulli")
    settings = _sampler_overrides(args)
    fit = model.fit(progressbar=not args.no_progress, warn=False, **settings)  # diagnostics printed below
    table = fit.summary()[["mean", "sd", "q2.5", "q97.5", "r_hat", "ess_bulk"]]
    truth = pd.Series({k: v for k, v in datasets.HOSPITAL_TRUTH.items() if not isinstance(v, dict)})
    table.insert(0, "truth", truth.reindex(table.index))
    table["covered"] = (table["truth"] >= table["q2.5"]) & (table["truth"] <= table["q97.5"])
    with pd.option_context("display.width", 140, "display.max_columns", 20):
        print(table.round(3).to_string())
    print(f"\n{int(table['covered'].sum())} of {len(table)} true values inside their 95% intervals; "
          f"sampling took {fit.seconds:.1f} s with {fit.backend}.")
    print(fit.diagnostics)
    return 0


COMMANDS = {"fit": cmd_fit, "compare": cmd_compare, "report": cmd_report, "demo": cmd_demo}


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning as one line on stderr, without the Python source location (the CLI user has no code)."""
    print(f"glmm-bayes: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``glmm-bayes`` console script; returns the exit code."""
    try:
        args, unknown = make_parser().parse_known_args(argv)
        if unknown:
            raise GLMMInputError(f"unrecognized arguments: {' '.join(unknown)}. "
                                 f"Run 'glmm-bayes {args.command} --help' for usage.")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.showwarning = _show_warning
            return COMMANDS[args.command](args)
    except GLMMInputError as exc:
        print(f"glmm-bayes: error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    except KeyboardInterrupt:
        print("glmm-bayes: interrupted", file=sys.stderr)
        return 130
    except Exception:
        print("glmm-bayes: internal error (please report it with the traceback below):", file=sys.stderr)
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    sys.exit(main())
