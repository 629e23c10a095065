"""The dbt project on a generated `small` world: `dbt build` passes with its data and unit tests, the
marts enforce their contracts, no personal data passes the staging layer, the marts read as of a date
hold nothing from after it, and Dagster runs the project as assets with checks."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kodomo.contracts import all_contracts, contract, person_feeds
from kodomo.dbt_sources import DBT_PROJECT_DIR
from kodomo.ingest.feed import ingest_feed
from kodomo.synthetic import generate

DBT = str(Path(sys.executable).with_name("dbt"))
MARTS = ("child", "child_timeline", "child_health_record", "case_history", "transfer_alerts", "statistics_cells",
         "intake_features", "intake_features_within_agency", "agencies")
PERSONAL_COLUMNS = {"child_name", "child_kana", "notes", "summary", "worker_rationale"}
AS_OF = dt.datetime(2022, 4, 1)

pytestmark = pytest.mark.slow


def ingest(landing: Path, warehouse: Path) -> None:
    """The ingestion's load and write, without Dagster around it (the same tables, faster)."""
    agencies: frozenset[str] = frozenset()
    with duckdb.connect(str(warehouse)) as con:
        for feed_contract in all_contracts().values():
            ingest_feed(con, feed_contract, landing, agencies)
            if feed_contract.feed == "agencies":
                agencies = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())


def write_stand_in_person_links(warehouse: Path, truth: Path) -> None:
    """TEST STAND-IN for the linkage output: the generator's true child of every child record.

    Exact links keep these tests about the dbt layer (a linkage miss cannot pass for a dbt bug); the
    product's linkage.person_links is written by the Splink linkage asset.
    """
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema if not exists linkage")
        con.execute(f"""
            create or replace table linkage.person_links as
            select agency_id, local_child_id, child_id as person_key
            from read_csv('{truth / "child_records.csv"}', all_varchar = true)""")


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dbt")
    landing = root / "landing"
    truth = generate(landing, scale="small", seed=0, progress=lambda _: None)
    path = root / "warehouse.duckdb"
    ingest(landing, path)
    write_stand_in_person_links(path, truth)
    return path


@pytest.fixture(scope="module")
def build(warehouse) -> subprocess.CompletedProcess:
    """`dbt build` as Dagster runs it: the venv's dbt in its own process, the warehouse from DBT_DUCKDB_PATH.

    It writes the project's own target folder, like any build: the Dagster definitions then find a
    current manifest, and their dbt runs on the same warehouse parse it partially.
    """
    return subprocess.run(
        [DBT, "build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
        env={**os.environ, "DBT_DUCKDB_PATH": str(warehouse)}, capture_output=True, text=True, check=False,
    )


@pytest.fixture(scope="module")
def target(build) -> Path:
    return DBT_PROJECT_DIR / "target"


@pytest.fixture(scope="module")
def built(build, warehouse) -> duckdb.DuckDBPyConnection:
    assert build.returncode == 0, build.stdout[-3000:]
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def test_dbt_build_passes_with_its_data_and_unit_tests(build, target):
    assert build.returncode == 0, build.stdout[-3000:]
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    statuses = {r["unique_id"]: r["status"] for r in results}
    assert not {node: status for node, status in statuses.items() if status in ("error", "fail")}
    unit_tests = [node for node in statuses if node.startswith("unit_test.")]
    assert len(unit_tests) >= 16
    assert any(node.endswith("third_hib_dose_is_overdue_on_2023_10_01") for node in unit_tests)
    assert any(node.endswith("intake_history_counts_only_what_was_on_record_at_receipt") for node in unit_tests)


def test_every_mart_enforces_a_contract_with_typed_columns(built, target):
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    marts = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model" and n["schema"] == "marts"}
    assert set(marts) == set(MARTS)
    for name, node in marts.items():
        assert node["config"]["contract"]["enforced"], name
        declared = [(c["name"], c["data_type"]) for c in node["columns"].values()]
        assert all(data_type for _, data_type in declared), name
        actual = built.execute("select column_name, lower(data_type) from information_schema.columns "
                               "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                               [name]).fetchall()
        assert actual == declared, name


def test_the_intake_features_spell_out_the_contracts_codes(built):
    columns = [r[0] for r in built.execute("select column_name from information_schema.columns where "
                                           "table_schema = 'marts' and table_name = 'intake_features'").fetchall()]
    items = [c.name for c in contract("assessments").columns if c.item]
    abuse = [f"abuse_{code}" for code in contract("case_reports").column("abuse_types").codes]
    assert [c for c in columns if c in items] == items
    assert [c for c in columns if c.startswith("abuse_")] == abuse


def test_no_personal_data_passes_the_staging_layer(built):
    columns = built.execute("select table_schema, table_name, column_name from information_schema.columns "
                            "where table_schema in ('intermediate', 'marts')").fetchall()
    assert columns
    assert not [c for c in columns if c[2] in PERSONAL_COLUMNS]
    assert not [c for c in columns if "address" in c[2] and c[2] != "address_municipality_code"]
    assert not [c for c in columns if c[0] == "marts" and c[2] in ("birth_date", "local_child_id")]


def test_timeline_as_of_a_date_has_no_later_event_and_every_report_known_then(built):
    as_of = built.execute("select max(event_at), count(*) from marts.child_timeline where known_at <= ?",
                          [AS_OF]).fetchone()
    assert as_of[1] > 0 and as_of[0] <= AS_OF
    # Independently of the models: reports received by then whose first version was on record by then,
    # and the reports a version before then called substantiated.
    expected_reports = built.execute("""
        select count(*)
        from valid.case_reports as latest
        inner join (
            select agency_id, report_id, min(updated_at) as first_recorded_at
            from valid.case_reports_versions group by all
        ) as history using (agency_id, report_id)
        where latest.received_at <= $1 and history.first_recorded_at <= $1""", [AS_OF]).fetchone()[0]
    expected_substantiated = built.execute("""
        select count(distinct (agency_id, report_id)) from valid.case_reports_versions
        where substantiated = 'yes' and updated_at <= $1""", [AS_OF]).fetchone()[0]
    got = dict(built.execute("""
        select event_type, count(*) from marts.child_timeline
        where known_at <= $1 and event_type in ('report_received', 'report_substantiated') group by all""",
                             [AS_OF]).fetchall())
    assert got["report_received"] == expected_reports
    assert got["report_substantiated"] == expected_substantiated


def test_case_history_counts_only_what_the_timeline_knew_at_intake(built):
    mismatches = built.execute("""
        with known_before as (
            select history.agency_id, history.report_id, history.prior_report_count,
                count(timeline.person_key) as timeline_prior_reports
            from marts.case_history as history
            left join marts.child_timeline as timeline
                on timeline.person_key = history.person_key
                and timeline.event_type = 'report_received'
                and timeline.event_at < history.received_at
                and timeline.known_at <= history.received_at
            group by all
        )
        select * from known_before where prior_report_count <> timeline_prior_reports""").fetchall()
    assert not mismatches
    later = built.execute("""
        select count(*) from marts.case_history
        where last_prior_report_at >= received_at or last_prior_substantiated_report_at >= received_at
            or last_prior_protection_at >= received_at""").fetchone()[0]
    assert later == 0
    assert built.execute("select sum(prior_report_count) from marts.case_history").fetchone()[0] > 0


def test_published_statistics_have_no_small_cell(built):
    from kodomo.statistics.publish import published_statistics

    published = published_statistics(built)
    counts = published[published.measure.str.endswith("_count") & ~published.suppressed]
    assert len(counts) > 0 and not counts.value.between(1, 9).any()
    assert published[published.suppressed].value.isna().all()


# --- the Dagster wiring (orchestration/defs/conform) ------------------------------------------


@pytest.fixture(scope="module")
def asset_graph(build, warehouse):
    import dagster as dg

    from kodomo.settings import get_settings
    from orchestration.defs.conform.assets import conform_assets
    from orchestration.defs.ingestion.assets import feed_assets, ingest_report
    from orchestration.defs.linkage.assets import linkage_assets
    from orchestration.defs.resources import pipeline_resources

    resources = pipeline_resources(get_settings().at_home(warehouse.parent), warehouse.parent / "landing")
    defs = dg.Definitions(assets=[*feed_assets, ingest_report, *linkage_assets, *conform_assets()],
                          resources=resources)
    return defs.resolve_asset_graph()


def test_sources_map_onto_the_ingestion_and_linkage_assets(asset_graph):
    import dagster as dg

    parents = lambda *key: asset_graph.get(dg.AssetKey(list(key))).parent_keys  # noqa: E731
    assert parents("staging", "stg_case_reports") == {dg.AssetKey(["valid", "case_reports"])}
    assert parents("staging", "stg_case_reports_versions") == {dg.AssetKey(["valid", "case_reports"])}
    assert parents("staging", "stg_person_links") == {dg.AssetKey(["linkage", "person_links"])}
    for mart in MARTS:
        assert dg.AssetKey(["marts", mart]) in asset_graph.get_all_asset_keys()


def test_dbt_tests_are_asset_checks_of_the_models(asset_graph):
    import dagster as dg

    checks = {c.name for c in asset_graph.get_check_keys_for_assets({dg.AssetKey(["marts", "statistics_cells"])})}
    assert any(name.startswith("expression_is_true") for name in checks)
    linked = asset_graph.get_check_keys_for_assets({dg.AssetKey(["staging", "stg_person_links"])})
    assert "assert_every_child_record_is_linked" in {c.name for c in linked}


def test_the_dbt_project_is_one_build_after_the_linkage(asset_graph):
    """One dbt command a run (each costs a start-up of seconds): the linkage reads only the valid feeds, so every
    model, those that need no linkage too, is in one definition downstream of it."""
    import dagster as dg

    from orchestration.defs.linkage.assets import LINKS

    def op_of(*key):
        return asset_graph.get(dg.AssetKey(list(key))).assets_def.node_def.name

    assert {op_of("staging", "stg_case_reports"), op_of("intermediate", "int_case_report_outcomes"),
            op_of("marts", "agencies"), op_of("staging", "stg_person_links"), op_of("marts", "child"),
            op_of("marts", "intake_features")} == {"dbt_conform"}
    linkage_reads = {dg.AssetKey(["valid", feed]) for feed in ["agencies", *person_feeds()]}
    assert asset_graph.get(LINKS).parent_keys == linkage_reads
    assert LINKS in asset_graph.get(dg.AssetKey(["staging", "stg_person_links"])).parent_keys


def test_dagster_materialises_a_mart_with_its_checks(built, warehouse):
    import dagster as dg

    from orchestration.defs.conform.assets import conform_assets
    from orchestration.defs.conform.project import DBT_EXECUTABLE, PipelineDbtCli, dbt_project
    from orchestration.defs.resources import KodomoHome, RunOptions, Warehouse

    built.close()  # dbt writes the warehouse from its own process
    child = dg.AssetKey(["marts", "child"])
    build = warehouse.parent / "build"
    resources = {"warehouse": Warehouse(path=str(warehouse), memory_limit="1GB"), "run": RunOptions(retrain=True),
                 "home": KodomoHome(path=str(warehouse.parent), build=str(build)),
                 "dbt": PipelineDbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)}
    result = dg.materialize(conform_assets(), resources=resources, selection=[child], raise_on_error=False)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == {child}
    checks = result.get_asset_check_evaluations()
    assert {c.asset_key for c in checks} == {child}
    assert len(checks) >= 3 and all(c.passed for c in checks)
    assert (build / "dbt" / "run_results.json").is_file()  # dbt's output stays with the run


def test_the_pipelines_dbt_resource_knows_the_executables_version_without_asking_it():
    """PipelineDbtCli takes dbt's version from the installed dbt-core instead of a `dbt --version` start-up: they
    must agree, as dagster-dbt chooses between dbt Core and the Fusion engine by it."""
    from dagster_dbt import DbtCliResource

    from orchestration.defs.conform.project import DBT_EXECUTABLE, PipelineDbtCli, dbt_project

    asked = DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)._cli_version
    assert PipelineDbtCli(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)._cli_version == asked
