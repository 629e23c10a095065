"""The ``kodomo`` command (../shared/spec/command-line.md)."""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
import time
import traceback
import warnings
from pathlib import Path

from kodomo import PYSPARK_PANDAS_WARNING
from kodomo.appdata.warehouse import WarehouseUnavailable
from kodomo.contracts import FEEDS
from kodomo.ingest.archive import ArchiveError
from kodomo.ingest.landing import LandingError, check_landing
from kodomo.settings import get_settings


class CommandError(Exception):
    """A one-line error for the operator; the command exits 1."""


#: Errors whose message is written for the operator: shown as they are, without a traceback.
OPERATOR_ERRORS = (CommandError, LandingError, ArchiveError, WarehouseUnavailable, ValueError)


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
    """The landing folder, resolved; missing, not a folder or without agencies.csv is a one-line error."""
    return check_landing(Path(path))


def cmd_run(args: argparse.Namespace) -> int:
    from orchestration.lifecycle import RunRefused
    from orchestration.runner import run_pipeline

    landing = _landing(args.landing)
    settings = get_settings()
    started = time.perf_counter()
    # dbt's event lines (hundreds per build) go to a log file: the command's output is a short summary.
    log_path = settings.run_log_path
    log_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_pipeline(settings, landing, step_log=log_path, retrain=not args.incremental)
    except RunRefused as exc:
        raise CommandError(str(exc)) from None
    except Exception:
        _progress(f"kodomo run failed, the published state is unchanged: the steps' output is in {log_path}")
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
    print(f"{'feed':<16}{'files':>7}{'q.files':>9}{'ignored':>9}{'rows':>10}{'valid':>10}{'q.rows':>8}{'records':>10}")
    for feed in FEEDS:
        if feed in report:
            r = report[feed]
            print(f"{feed:<16}{r['files_read']:>7}{r['files_quarantined']:>9}{r.get('files_ignored', 0):>9}"
                  f"{r['rows_read']:>10}{r['rows_valid']:>10}{r['rows_quarantined']:>8}{r['records']:>10}")
    return 0


def cmd_export_links(args: argparse.Namespace) -> int:
    import duckdb

    from kodomo.linkage import export_links

    warehouse = get_settings().warehouse_path
    if not warehouse.is_file():
        raise CommandError(f"no linkage result yet: run 'kodomo run --landing DIR' first ({warehouse} missing)")
    out = Path(args.out)
    if out.parent.exists() and not out.parent.is_dir():
        raise CommandError(f"cannot write {out}: {out.parent} is not a folder")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = export_links(con, out)
    _progress(f"wrote {rows} child records to {args.out}")
    return 0


def _cutoff(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--cutoff must be a date YYYY-MM-DD, not {text!r}") from None


def cmd_backtest(args: argparse.Namespace) -> int:
    import tempfile

    from ml.backtest import run_backtest
    from orchestration.runner import build_platform

    landing = _landing(args.landing)
    cutoff = _cutoff(args.cutoff)
    started = time.perf_counter()
    # A backtest builds its own platform from the landing in a scratch home: the published state is not touched.
    with tempfile.TemporaryDirectory(prefix="kodomo-backtest-") as scratch:
        _progress(f"backtest: building the platform from {landing} in {scratch}")
        warehouse = build_platform(get_settings().at_home(Path(scratch)), landing)
        result = run_backtest(warehouse, cutoff, Path(args.out), progress=_progress)
    print(f"kodomo backtest: trained on {result.trained_on} intakes, scored {result.scored} received from "
          f"{cutoff} into {result.out} in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from kodomo.operational import connect, verify

    result = verify(connect(get_settings()))
    print(result.line)
    return 0 if result.ok else 1


def cmd_demo_accounts(args: argparse.Namespace) -> int:
    """One account per role at the warehouse's first jurisdiction, each with a fresh password, printed once."""
    from kodomo.appdata.access import load_agencies
    from kodomo.appdata.accounts import create_demo_accounts
    from kodomo.appdata.warehouse import read_only
    from kodomo.operational import connect

    settings = get_settings()
    with read_only(settings.warehouse_path) as con:
        agencies = load_agencies(con)
    made = create_demo_accounts(connect(settings), settings, agencies)
    print("Demo accounts (synthetic data only; the passwords are shown this once):")
    for demo in made:
        print(f"  {demo.account.role:<15} {demo.account.user_id:<22} {demo.password}  "
              f"({demo.account.agency_id} {agencies[demo.account.agency_id].name})")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from kodomo.onestop.chatbot import ask_file

    for line in ask_file(Path(args.batch)):
        print(line)
    return 0


def cmd_navigate(args: argparse.Namespace) -> int:
    from kodomo.onestop.navigator import navigate_file

    print(json.dumps(navigate_file(Path(args.household)), ensure_ascii=False))
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from kodomo.appdata.warehouse import read_only
    from ml.live_scoring import load_champion, score_lines

    settings = get_settings()
    champion = load_champion(settings)
    if champion is None:
        raise CommandError("no champion model yet: run 'kodomo run --landing DIR' first")
    lines = Path(args.batch).read_text(encoding="utf-8").splitlines()
    with read_only(settings.warehouse_path) as con:
        for result in score_lines(con, champion, lines):
            print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from kodomo.appdata.search import search_lines
    from kodomo.appdata.warehouse import read_only
    from kodomo.linkage.identify import load_model
    from kodomo.linkage.pipeline import MODEL_FILE
    from kodomo.operational import connect

    settings = get_settings()
    lines = Path(args.batch).read_text(encoding="utf-8").splitlines()
    engine = connect(settings)
    try:
        with read_only(settings.warehouse_path) as con:
            model = load_model(settings.linkage_dir / MODEL_FILE, con)
            for line in search_lines(con, engine, model, args.user, lines):
                print(line)
    finally:
        engine.dispose()
    return 0


def cmd_export_health(args: argparse.Namespace) -> int:
    from kodomo.health.export import export_health
    from kodomo.health.record import NoHealthRecord

    settings = get_settings()
    if not settings.warehouse_path.is_file():
        raise CommandError(f"no warehouse yet: run 'kodomo run --landing DIR' first "
                           f"({settings.warehouse_path} missing)")
    out = Path(args.out)
    if not out.parent.is_dir():
        raise CommandError(f"cannot write {out}: {out.parent} is not a folder")
    as_of = dt.date.fromisoformat(args.as_of) if args.as_of else None
    try:
        bundle = export_health(settings, args.person_key, out, as_of)
    except NoHealthRecord as exc:
        raise CommandError(f"--person-key {args.person_key}: {exc}") from None
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    _progress(f"wrote {args.out}: {kinds.count('Immunization')} immunizations, {kinds.count('Observation')} "
              f"growth measurements")
    return 0


def cmd_export_stats(args: argparse.Namespace) -> int:
    from kodomo.statistics.export import export_stats

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"--out {out}: not a folder")
    written = export_stats(get_settings(), out)
    _progress(f"wrote {written}")
    return 0


def _date_argument(text: str) -> str:
    """A YYYY-MM-DD argument, checked when the arguments are parsed (before any slow import); kept as text."""
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a date YYYY-MM-DD, not {text!r}") from None
    return text


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line too (``--help`` has the usage); exit 2 as argparse does."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kodomo", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    # Also accepted after the subcommand; SUPPRESS keeps a subcommand from resetting the global flag.
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", parents=[debug], help="write a synthetic landing folder and its ground truth")
    p.add_argument("--out", required=True)
    # tokyo (about 1.8 million children, all of Tokyo's municipalities) extends the spec's three scales.
    p.add_argument("--scale", choices=("small", "prefecture", "national", "tokyo"), default="prefecture",
                   help="world size; tokyo is generated in shards, in bounded memory")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("run", parents=[debug], help="run the whole pipeline on a landing folder")
    p.add_argument("--landing", required=True)
    p.add_argument("--incremental", action="store_true",
                   help="a delivery's run: keep the published linkage model and champion (train nothing); any run "
                        "reads only files it has not read before")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("report", parents=[debug], help="counts of the last run")
    p.add_argument("what", choices=("ingest",))
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("export-links", parents=[debug], help="the linkage result of the last run")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export_links)

    p = sub.add_parser("backtest", parents=[debug], help="train before a cutoff and score intakes after it")
    p.add_argument("--landing", required=True)
    p.add_argument("--cutoff", required=True, type=_date_argument)
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_backtest)

    p = sub.add_parser("audit", parents=[debug], help="check the audit log's hash chain and protections")
    p.add_argument("what", choices=("verify",))
    p.set_defaults(func=cmd_audit)

    p = sub.add_parser("demo-accounts", parents=[debug],
                       help="create (or renew) one demo account per role and print their passwords once")
    p.set_defaults(func=cmd_demo_accounts)
    p = sub.add_parser("ask", parents=[debug], help="the single-parent chatbot, one question a line")
    p.add_argument("--batch", required=True)
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("navigate", parents=[debug], help="the single-parent navigator for one household")
    p.add_argument("--household", required=True)
    p.add_argument("--json", action="store_true", help="the answer as JSON (the only output format)")
    p.set_defaults(func=cmd_navigate)
    p = sub.add_parser("score", parents=[debug], help="score new intakes as the app does, one JSON intake a line")
    p.add_argument("--batch", required=True)
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
    p.set_defaults(func=cmd_score)
    p = sub.add_parser("search", parents=[debug], help="search children across agencies, one JSON query a line")
    p.add_argument("--batch", required=True)
    p.add_argument("--user", required=True, help="the operator, named in the audit log")
    p.add_argument("--json", action="store_true", help="JSON lines (the only output format)")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("export-health", parents=[debug], help="one child's health record as a FHIR R4 Bundle (JSON)")
    p.add_argument("--person-key", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--as-of", type=_date_argument, help="statuses as of this date YYYY-MM-DD (default: the data's end)")
    p.set_defaults(func=cmd_export_health)
    p = sub.add_parser("export-stats", parents=[debug],
                       help="the managers' statistics as published (small cells withheld)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_export_stats)
    return parser


def _innermost(exc: BaseException) -> BaseException:
    """The error at the bottom of a chain: Dagster wraps a step's own error in its own."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


def error_line(exc: BaseException) -> str:
    """One line saying what failed and where, for any error a command can end with."""
    inner = _innermost(exc)
    if isinstance(inner, OPERATOR_ERRORS):
        text = str(inner)
    elif isinstance(inner, OSError) and inner.filename:
        text = f"{(inner.strerror or type(inner).__name__).lower()}: {inner.filename}"
    else:
        lines = [line for line in str(inner).splitlines() if line.strip()]
        text = f"{type(inner).__name__}: {lines[0] if lines else ''} (run with --debug for the traceback)"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.filterwarnings("ignore", PYSPARK_PANDAS_WARNING, FutureWarning)  # the output stays the command's own
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    logging.getLogger("kodomo.progress").setLevel(logging.INFO)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"kodomo {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 — every failure ends in one line; --debug shows where it came from
        if args.debug:
            traceback.print_exc()
        print(f"kodomo {args.command}: {error_line(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
