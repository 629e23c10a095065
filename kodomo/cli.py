"""The ``kodomo`` command (../shared/spec/command-line.md)."""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import logging
import sys
import time
from pathlib import Path

from kodomo.contracts import FEEDS
from kodomo.settings import get_settings

class CommandError(Exception):
    """A one-line error for the operator; the command exits 1."""


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_generate(args: argparse.Namespace) -> int:
    from kodomo.synthetic import generate

    out = Path(args.out)
    started = time.perf_counter()
    truth = generate(out, scale=args.scale, seed=args.seed, progress=_progress)
    _progress(f"generated {args.scale} world in {time.perf_counter() - started:.1f}s; truth in {truth}")
    print(out)
    return 0


def _landing(path: str) -> Path:
    landing = Path(path)
    if not landing.is_dir():
        raise CommandError(f"landing folder not found: {landing}")
    return landing.resolve()


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.runner import run_pipeline

    landing = _landing(args.landing)
    settings = get_settings()
    started = time.perf_counter()
    # dbt's event lines (hundreds per build) go to a log file: the command's output is a short summary.
    log_path = settings.reports_dir / "run.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        try:
            run_pipeline(settings, landing)
        except Exception:
            _progress(f"kodomo run failed: the steps' output is in {log_path}")
            raise
    report = json.loads(settings.ingest_report_path.read_text(encoding="utf-8"))
    records = sum(r["records"] for r in report.values())
    quarantined = sum(r["rows_quarantined"] for r in report.values())
    files = sum(r["files_quarantined"] for r in report.values())
    print(f"kodomo run: {len(report)} feeds, {records} records, {quarantined} rows and {files} files quarantined "
          f"in {time.perf_counter() - started:.1f}s (state in {settings.home}, step output in {log_path})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    path = get_settings().ingest_report_path
    if not path.is_file():
        raise CommandError(f"no ingestion report yet: run 'kodomo run --landing DIR' first ({path} missing)")
    report = json.loads(path.read_text(encoding="utf-8"))
    spec_fields = ("files_read", "files_quarantined", "rows_read", "rows_valid", "rows_quarantined", "records",
                   "quarantine_by_rule")
    if args.json:
        ordered = {feed: {k: report[feed][k] for k in spec_fields} for feed in FEEDS if feed in report}
        print(json.dumps(ordered, ensure_ascii=False))
        return 0
    print(f"{'feed':<16}{'files':>7}{'q.files':>9}{'rows':>10}{'valid':>10}{'q.rows':>8}{'records':>10}")
    for feed in FEEDS:
        if feed in report:
            r = report[feed]
            print(f"{feed:<16}{r['files_read']:>7}{r['files_quarantined']:>9}{r['rows_read']:>10}"
                  f"{r['rows_valid']:>10}{r['rows_quarantined']:>8}{r['records']:>10}")
    return 0


def cmd_export_links(args: argparse.Namespace) -> int:
    import duckdb

    from kodomo.linkage import export_links

    warehouse = get_settings().warehouse_path
    if not warehouse.is_file():
        raise CommandError(f"no linkage result yet: run 'kodomo run --landing DIR' first ({warehouse} missing)")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = export_links(con, Path(args.out))
    _progress(f"wrote {rows} child records to {args.out}")
    return 0


def _cutoff(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--cutoff must be a date YYYY-MM-DD, not {text!r}") from None


def cmd_backtest(args: argparse.Namespace) -> int:
    from ml.backtest import run_backtest

    landing = _landing(args.landing)
    cutoff = _cutoff(args.cutoff)
    started = time.perf_counter()
    result = run_backtest(landing, cutoff, Path(args.out), progress=_progress)
    print(f"kodomo backtest: trained on {result.trained_on} intakes, scored {result.scored} received from "
          f"{cutoff} into {result.out} in {time.perf_counter() - started:.1f}s")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kodomo", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="write a synthetic landing folder and its ground truth")
    p.add_argument("--out", required=True)
    p.add_argument("--scale", choices=("small", "prefecture", "national"), default="prefecture")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", help="run the whole pipeline on a landing folder")
    p.add_argument("--landing", required=True)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", help="counts of the last run")
    p.add_argument("what", choices=("ingest",))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export-links", help="the linkage result of the last run")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export_links)

    p = sub.add_parser("backtest", help="train before a cutoff and score intakes after it")
    p.add_argument("--landing", required=True)
    p.add_argument("--cutoff", required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_backtest)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("kodomo.progress").setLevel(logging.INFO)
    try:
        return args.func(args)
    except CommandError as exc:
        print(f"kodomo {args.command}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"kodomo {args.command}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
