"""The fixed costs of a delivery's run, measured apart: what every `kodomo run --incremental` pays before the
data it delivers costs anything (issue 14's 15 s target for a `prefecture` delivery).

Run after `bench/scale.py --incremental SCALE`, on the warehouse its delivery's run published (a copy; nothing of
that home changes). Each part is the best of ``--repeats`` runs:

- **start-up**: a Python process importing what `kodomo run` imports before its first step (the command line, the
  runner, the Dagster definitions: Dagster, dagster-dbt, Great Expectations, DuckDB, pandas);
- **dbt around its graph**: a `dbt build` of the pipeline's selector, as the delivery's run makes it (its variables
  parsed beforehand and the saved parse copied into a new target, as the run does), less the time dbt itself
  reports for running the graph: the process's start-up, the project's loading, the adapter, the exit;
- **dbt's graph**: that time dbt reports (models and data tests on the delivered warehouse);
- **Dagster's bookkeeping**: the delivery run's job (the same assets and asset checks, the same steps) with every
  step a no-op that reports what the real one reports, on a persistent SQLite instance and with the console
  logging `kodomo run` uses: run creation with its planned events, then every step's events stored.

Prints a Markdown table, then the JSON, which is also written to ``<workdir>/delivery_floor.json``:

    python bench/delivery_floor.py --scale prefecture [--repeats 3]
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import dagster as dg
from common import parse_arguments

from kodomo.settings import get_settings
from orchestration.definitions import build_definitions
from orchestration.defs.conform.assets import SELECTOR, dbt_build_arguments
from orchestration.defs.conform.project import DBT_EXECUTABLE, dbt_project, prepare_project
from orchestration.defs.resources import Warehouse, pipeline_resources
from orchestration.runner import DEPLOY_DIR, QUIET, delivery_selection

TARGET_S = 15.0
RUN_IMPORTS = "import kodomo.cli, orchestration.runner, orchestration.definitions"
DBT_GRAPH = re.compile(r"Finished running .*\(([0-9.]+)s\)")


def main() -> int:
    args, workdir = parse_arguments(__doc__.splitlines()[0], extra=[("--repeats", "3")])
    repeats = int(args.repeats)
    published = workdir / f"incremental-{args.scale}-{args.seed}" / "home" / "warehouse.duckdb"
    if not published.is_file():
        sys.exit(f"no delivered warehouse at {published}: run bench/scale.py --incremental {args.scale} first")
    with tempfile.TemporaryDirectory(prefix="delivery-floor-") as scratch:
        scratch = Path(scratch)
        start_up = best_of(repeats, lambda: timed([sys.executable, "-c", RUN_IMPORTS]))
        dbt_runs = [dbt_build(published, scratch) for _ in range(repeats)]
        bookkeeping, shape = dagster_bookkeeping(scratch, repeats)
    dbt_best = min(dbt_runs, key=lambda run: run["wall_s"])
    result = {
        "scale": args.scale, "repeats": repeats,
        "start_up_s": round(start_up, 2),
        "dbt_around_graph_s": round(dbt_best["wall_s"] - dbt_best["graph_s"], 2),
        "dbt_graph_s": round(dbt_best["graph_s"], 2),
        "dagster_bookkeeping_s": round(bookkeeping, 2),
        "job_shape": shape,
    }
    result["fixed_s"] = round(result["start_up_s"] + result["dbt_around_graph_s"] + result["dagster_bookkeeping_s"], 2)
    result["floor_s"] = round(result["fixed_s"] + result["dbt_graph_s"], 2)
    text = json.dumps(result, indent=2)
    (workdir / "delivery_floor.json").write_text(text, encoding="utf-8")
    print(markdown(result))
    print(text)
    return 0


def best_of(repeats: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(repeats))


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def dbt_build(published: Path, scratch: Path) -> dict:
    """One ``dbt build`` of the delivery's run on a copy of ``published``: its wall time and dbt's own graph time."""
    warehouse = scratch / "warehouse.duckdb"
    shutil.copyfile(published, warehouse)
    resource = Warehouse(path=str(warehouse), memory_limit=get_settings().duckdb_memory_limit)
    # As every run does before its dbt step, untimed. The project's saved parse now has this bench's variables:
    # the next `kodomo run` parses once again (about 5 s).
    prepare_project(variables=resource.dbt_variables)
    target = scratch / "target"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    shutil.copy2(Path(dbt_project.project_dir) / dbt_project.target_path / "partial_parse.msgpack", target)
    started = time.perf_counter()
    done = subprocess.run(
        [DBT_EXECUTABLE, *dbt_build_arguments(resource, retrain=False), "--selector", SELECTOR,
         "--target-path", str(target)],
        cwd=dbt_project.project_dir, check=True, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    graph = DBT_GRAPH.search(done.stdout)
    if graph is None:
        raise RuntimeError("dbt printed no 'Finished running ... (N s)' line:\n" + done.stdout[-2000:])
    return {"wall_s": wall, "graph_s": float(graph[1])}


def dagster_bookkeeping(scratch: Path, repeats: int) -> tuple[float, dict]:
    """The best wall time of the delivery run's job with no-op steps on a fresh persistent SQLite instance, and the
    job's shape (steps, materializations, asset checks)."""
    settings = get_settings()
    real = build_definitions(pipeline_resources(settings, settings.landing, retrain=False))
    graph = real.resolve_asset_graph()
    delivered = delivery_selection().resolve(graph)
    # A step reports its assets in dependency order, as dbt does (Dagster checks it).
    order = {key: position for position, key in enumerate(graph.toposorted_asset_keys)}
    selected = sorted(delivered, key=order.__getitem__)
    replicas = [no_op_replica(assets_def, selected) for assets_def in graph.assets_defs
                if assets_def.is_executable and set(assets_def.keys) & delivered]
    defs = dg.Definitions(assets=replicas, jobs=[dg.define_asset_job("delivery_shape")],
                          executor=dg.in_process_executor)
    shape = {"steps": len(replicas), "materializations": sum(len(r.keys) for r in replicas),
             "asset_checks": sum(len(list(r.check_specs)) for r in replicas)}
    walls = []
    for attempt in range(repeats):
        home = scratch / f"dagster-{attempt}"
        home.mkdir()
        shutil.copy(DEPLOY_DIR / "dagster.local.yaml", home / "dagster.yaml")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            started = time.perf_counter()
            defs.resolve_job_def("delivery_shape").execute_in_process(instance=instance, run_config=QUIET,
                                                                   raise_on_error=True)
            walls.append(time.perf_counter() - started)
    return min(walls), shape


def no_op_replica(assets_def: dg.AssetsDefinition, selected: list[dg.AssetKey]) -> dg.AssetsDefinition:
    """A step with the same assets, dependencies and asset checks as ``assets_def`` that reports each of them done,
    in the order of ``selected`` (the selected keys, sorted by dependency)."""
    by_key = {spec.key: spec for spec in assets_def.specs}
    specs = [dg.AssetSpec(key, deps=by_key[key].deps, group_name=by_key[key].group_name)
             for key in selected if key in by_key]
    reported = {spec.key for spec in specs}
    checks = [dg.AssetCheckSpec(check.name, asset=check.asset_key)
              for check in assets_def.check_specs if check.asset_key in reported]

    @dg.multi_asset(name=assets_def.node_def.name, specs=specs, check_specs=checks)
    def replica():
        for spec in specs:
            yield dg.MaterializeResult(asset_key=spec.key)
        for check in checks:
            yield dg.AssetCheckResult(asset_key=check.asset_key, check_name=check.name, passed=True)

    return replica


def markdown(result: dict) -> str:
    shape = result["job_shape"]
    rows = [
        ("Python start-up and the run's imports", result["start_up_s"]),
        ("dbt around its graph (start-up, project, adapter, exit)", result["dbt_around_graph_s"]),
        (f"Dagster's bookkeeping ({shape['steps']} steps, {shape['materializations']} materializations, "
         f"{shape['asset_checks']} asset checks)", result["dagster_bookkeeping_s"]),
        ("**fixed, whatever is delivered**", result["fixed_s"]),
        ("dbt's graph on the delivered warehouse (models and data tests)", result["dbt_graph_s"]),
        ("**the floor before ingestion, linkage, scoring and publishing**", result["floor_s"]),
    ]
    lines = [f"Fixed costs of a delivery's run at `{result['scale']}` (best of {result['repeats']}; target "
             f"{TARGET_S:g} s for the whole run):", "", "| part | seconds |", "|---|---|"]
    lines += [f"| {label} | {seconds:.1f} |" for label, seconds in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
