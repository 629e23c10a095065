"""Benchmark of the pipeline's cost against the world's size, per scale and for one day's delivery (issue 14).

Targets on this 2-core machine: ingestion ≥ 50 k rows/s at every scale, peak RSS of the whole `kodomo run` ≤ 6 GiB
at `tokyo`, an incremental run after one day's delivery on a `prefecture` warehouse ≤ 15 s.

Per scale: the generator's wall time and peak RSS (measured when the landing is generated, cached under the work
folder with it), the rows delivered (the ingest report's ``rows_read``), then one ``kodomo run`` in a fresh home,
measured per stage (wall time and peak RSS), with ingestion's rows/s. The RSS is that of the run's whole process
tree (the Python process, dbt, a JVM), sampled from /proc every 0.2 s and attributed to a stage by the Dagster
steps' start and end times read from the run's instance afterwards; a stage's wall time is the sum of its steps'.
A stage's peak includes what earlier stages left allocated in the process. The whole run's ``ru_maxrss`` (the
largest single process of the tree, from ``wait4``) is a cross-check.

The incremental measurement (``--incremental SCALE``; empty to skip) runs once on the landing without its last
delivery day (the files named with the latest date, in every feed folder), then copies that day's files in and
measures the second run, a delivery's run: ``kodomo run`` with ``--delivery-run-flags`` (default ``--incremental``,
which trains nothing; ``--delivery-run-flags=`` for a full run), then a third with the same flags and nothing new
delivered: the floor of a delivery's run, what every run costs whatever it delivers. Under the table: the fitted
growth exponents, the least-squares slopes of log(time) and log(peak RSS) against log(rows) over the measured scales.

Prints a Markdown table, then the JSON, which is also written to ``<workdir>/scale.json``:

    python bench/scale.py --scales small,prefecture,national,tokyo --incremental prefecture [--seed 0]

(``--workdir`` defaults to ``$KODOMO_HOME/bench``, where the other benchmarks cache their landings.)
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from common import TreeMeasurement, ensure_landing, generation_record, measure_tree, parse_arguments

from kodomo.settings import get_settings
from kodomo.synthetic.scales import SCALES

# The pipeline's stages by their Dagster step keys.
STAGES: dict[str, Callable[[str], bool]] = {
    "ingest": lambda step: step.startswith("ingest_") or step == "meta__ingest_report",
    "linkage": lambda step: step == "link_children",
    "dbt": lambda step: step.startswith("dbt_"),
    "training": lambda step: step.startswith("ml__"),
}
DELIVERY_DATE = re.compile(r"(?<![0-9])([0-9]{8})(?![0-9])")


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0], one_scale=False, extra=[
        ("--scales", ",".join(SCALES)), ("--incremental", "prefecture"), ("--delivery-run-flags", "--incremental")])
    scales = [name for name in args.scales.split(",") if name]
    unknown = [name for name in [*scales, args.incremental] if name and name not in SCALES]
    if unknown:
        sys.exit(f"unknown scale(s) {', '.join(unknown)}: choose among {', '.join(SCALES)}")
    workdir.mkdir(parents=True, exist_ok=True)

    # Saved after each measurement: a larger scale failing (out of memory) keeps the smaller ones' figures.
    result = {"seed": args.seed, "cpus": os.cpu_count(), "scales": [], "incremental": None, "growth_exponents": {}}
    for scale in scales:
        result["scales"].append(measure_scale(workdir, scale, args.seed))
        result["growth_exponents"] = growth_exponents(result["scales"])
        save(result, workdir)
    if args.incremental:
        result["incremental"] = measure_incremental(workdir, args.incremental, args.seed,
                                                    args.delivery_run_flags.split())
    print(markdown(result))
    print(save(result, workdir))
    return 0


def save(result: dict, workdir: Path) -> str:
    text = json.dumps(result, indent=2, ensure_ascii=False)
    (workdir / "scale.json").write_text(text + "\n", encoding="utf-8")
    return text


def measure_scale(workdir: Path, scale: str, seed: int) -> dict:
    landing = ensure_landing(workdir, scale, seed)
    record = generation_record(landing)
    home = fresh(workdir / f"scale-home-{scale}-{seed}")
    run = measured_run(home, landing)
    rows = run.pop("rows_read")
    return {"scale": scale, "rows": rows,
            "generate": json.loads(record.read_text(encoding="utf-8")) if record.is_file() else None,
            **run, "ingest_rows_per_s": rows_per_s(rows, run["stages"]["ingest"])}


def measure_incremental(workdir: Path, scale: str, seed: int, delivery_flags: list[str]) -> dict:
    """A full run on the landing without its last delivery day, then a delivery's run (``kodomo run`` with
    ``delivery_flags``) after that day's files arrive."""
    full = ensure_landing(workdir, scale, seed)
    folder = fresh(workdir / f"incremental-{scale}-{seed}")
    landing, home = folder / "landing", folder / "home"
    day, last_day = last_delivery_day(full)
    link_tree(full, landing, exclude=set(last_day))
    base = measured_run(home, landing)
    link_tree(full, landing, only=last_day)
    after = measured_run(home, landing, delivery_flags)
    nothing_new = measured_run(home, landing, delivery_flags)
    new_rows = sum(data_rows(full / path) for path in last_day)
    return {"scale": scale, "day": day.isoformat(), "day_files": len(last_day), "day_rows": new_rows,
            "delivery_run": " ".join(["kodomo run", *delivery_flags]), "base": base, "after_day": after,
            "after_day_ingest_rows_per_s": rows_per_s(new_rows, after["stages"]["ingest"]),
            "nothing_new": nothing_new}


def measured_run(home: Path, landing: Path, flags: list[str] = ()) -> dict:
    """``kodomo run --landing landing flags`` in ``home``: the whole run, each stage (wall time, peak RSS) and the
    time outside the Dagster steps (start-up, publishing), and the ingest report's rows read."""
    run = measure_tree([sys.executable, "-m", "kodomo.cli", "run", "--landing", str(landing), *flags],
                       env=os.environ | {"KODOMO_HOME": str(home)}, stdout=sys.stderr)  # stdout: table and JSON
    run.check()
    settings = get_settings().at_home(home)
    report = json.loads(settings.ingest_report_path.read_text(encoding="utf-8"))
    steps = last_run_steps(settings.dagster_home)
    stages = {name: stage_cost(run, [s for s in steps if belongs(s[0])]) for name, belongs in STAGES.items()}
    staged = {s[0] for s in steps if any(belongs(s[0]) for belongs in STAGES.values())}
    return {"rows_read": sum(r["rows_read"] for r in report.values()),
            "run": {"wall_s": round(run.wall_s, 1), "peak_rss_mib": round(run.peak_rss_mib),
                    "ru_maxrss_mib": round(run.ru_maxrss_mib), "samples": len(run.samples),
                    "outside_steps_s": round(run.wall_s - sum(end - start for _, start, end in steps), 1)},
            "stages": stages, "other_steps": sorted({s[0] for s in steps} - staged)}


def last_run_steps(dagster_home: Path) -> list[tuple[str, float, float]]:
    """(step key, start, end) of the latest run of the home's Dagster instance, as the run configured it."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        run = instance.get_runs(limit=1)[0]
        return [(s.step_key, s.start_time, s.end_time) for s in instance.get_run_step_stats(run.run_id)
                if s.start_time is not None and s.end_time is not None]


def stage_cost(run: TreeMeasurement, steps: list[tuple[str, float, float]]) -> dict:
    if not steps:
        return {"wall_s": None, "peak_rss_mib": None, "steps": 0}
    return {"wall_s": round(sum(end - start for _, start, end in steps), 1),
            "peak_rss_mib": round(max(run.peak_between_mib(start, end) for _, start, end in steps)),
            "steps": len(steps)}


def rows_per_s(rows: int, stage: dict) -> int | None:
    return round(rows / stage["wall_s"]) if stage["wall_s"] else None


def last_delivery_day(landing: Path) -> tuple[dt.date, list[Path]]:
    """The latest date in a feed file's name, and the files (relative to ``landing``) named with it."""
    dated = {}
    for path in landing.glob("*/*"):
        match = DELIVERY_DATE.search(path.name)
        if path.is_file() and match:
            try:
                dated[path.relative_to(landing)] = dt.datetime.strptime(match[1], "%Y%m%d").date()
            except ValueError:  # not a date: the file stays in the base landing
                continue
    day = max(dated.values())
    return day, sorted(path for path, date in dated.items() if date == day)


def link_tree(source: Path, target: Path, exclude: set[Path] = frozenset(), only: list[Path] | None = None) -> None:
    """Hard-link (copy across file systems) ``source``'s files into ``target``: ``only`` these, or all but
    ``exclude``. A run reads the landing and never changes it."""
    paths = only if only is not None else [p.relative_to(source) for p in source.rglob("*") if p.is_file()]
    for path in paths:
        if path in exclude:
            continue
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source / path, target / path)
        except OSError:
            shutil.copy2(source / path, target / path)


def data_rows(path: Path) -> int:
    """CSV records after the header; latin-1 reads any encoding's bytes, and quotes and newlines are ASCII."""
    with open(path, encoding="latin-1", newline="") as file:
        return max(sum(1 for _ in csv.reader(file)) - 1, 0)


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def slope(xs: list[float], ys: list[float]) -> float | None:
    """The least-squares slope of log(y) against log(x); None under two usable points."""
    points = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y]
    if len({x for x, _ in points}) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    return round(sum((x - mean_x) * (y - mean_y) for x, y in points) / sum((x - mean_x) ** 2 for x, _ in points), 2)


def growth_exponents(measured: list[dict]) -> dict:
    """Per stage, the whole run and the generator: exponents of time and peak RSS against rows."""
    rows = [m["rows"] for m in measured]
    costs = {name: [m["stages"][name] for m in measured] for name in STAGES}
    costs["run"] = [m["run"] for m in measured]
    costs["generate"] = [m["generate"] or {"wall_s": None, "peak_rss_mib": None} for m in measured]
    return {name: {"time": slope(rows, [c["wall_s"] for c in cost]),
                   "memory": slope(rows, [c["peak_rss_mib"] for c in cost])} for name, cost in costs.items()}


def cell(cost: dict | None) -> str:
    if not cost or cost["wall_s"] is None:
        return "—"
    return f"{cost['wall_s']:,.1f} s · {cost['peak_rss_mib']:,} MiB"


def markdown(result: dict) -> str:
    columns = ["rows", "generate", *STAGES, "ingest rows/s", "outside steps", "whole run", "ru_maxrss"]
    lines = [f"| scale | {' | '.join(columns)} |", "|---" * (len(columns) + 1) + "|"]
    for m in result["scales"]:
        lines.append(table_row(m["scale"], m["rows"], m["generate"], m, m["ingest_rows_per_s"]))
    exponents = result["growth_exponents"]
    if len(result["scales"]) >= 2:
        names = [*STAGES, "run", "generate"]
        lines += ["", "Growth exponents against rows (least squares of the logs):", "",
                  f"| | {' | '.join(names)} |", "|---" * (len(names) + 1) + "|"]
        for kind in ("time", "memory"):
            lines.append(f"| {kind} | " + " | ".join(
                "—" if exponents[name][kind] is None else f"{exponents[name][kind]:.2f}" for name in names) + " |")
    else:
        lines += ["", "Growth exponents: need at least two scales."]
    incremental = result["incremental"]
    if incremental:
        lines += ["", f"Incremental on {incremental['scale']}: `{incremental['delivery_run']}` after the last delivery "
                      f"day {incremental['day']} ({incremental['day_files']} files, {incremental['day_rows']:,} rows), "
                      "following a run without it:", "",
                  f"| run | {' | '.join(columns)} |", "|---" * (len(columns) + 1) + "|",
                  table_row("without the day", incremental["base"]["rows_read"], None, incremental["base"],
                            rows_per_s(incremental["base"]["rows_read"], incremental["base"]["stages"]["ingest"])),
                  table_row("the day's delivery", incremental["day_rows"], None, incremental["after_day"],
                            incremental["after_day_ingest_rows_per_s"]),
                  table_row("nothing new delivered", 0, None, incremental["nothing_new"], None)]
    return "\n".join(lines) + "\n"


def table_row(label: str, rows: int, generate: dict | None, run: dict, ingest_rows_per_s: int | None) -> str:
    cells = [f"{rows:,}", cell(generate), *(cell(run["stages"][name]) for name in STAGES),
             "—" if ingest_rows_per_s is None else f"{ingest_rows_per_s:,}", f"{run['run']['outside_steps_s']:,.1f} s",
             cell(run["run"]),
             f"{run['run']['ru_maxrss_mib']:,} MiB"]
    return f"| {label} | {' | '.join(cells)} |"


if __name__ == "__main__":
    sys.exit(main())
