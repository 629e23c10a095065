"""The dbt project's inputs that come from the contracts: the sources file and the schedule seed."""
from __future__ import annotations

import csv

from kodomo.contracts import all_contracts, contract
from kodomo.dbt_sources import SCHEDULE_SEED, SOURCES_PATH, VERSIONED_FEEDS, main, render, sources


def test_sources_file_is_generated_from_the_contracts():
    assert SOURCES_PATH.read_text(encoding="utf-8") == render()


def test_every_required_column_is_not_null_and_every_code_list_is_tested():
    tables = {t["name"]: t for t in sources()["sources"][0]["tables"]}
    assert set(tables) == set(all_contracts()) | {f"{feed}_versions" for feed in VERSIONED_FEEDS}
    for feed, feed_contract in all_contracts().items():
        columns = {c["name"]: c.get("data_tests", []) for c in tables[feed]["columns"]}
        for column in feed_contract.columns:
            tests = columns[column.name]
            assert ("not_null" in tests) == column.required, (feed, column.name)
            accepted = [t["accepted_values"]["arguments"]["values"] for t in tests if "accepted_values" in t]
            assert accepted == ([list(column.codes)] if column.type == "code" else []), (feed, column.name)


def test_schedule_seed_covers_exactly_the_contract_vaccines():
    with open(SCHEDULE_SEED, encoding="utf-8") as f:
        vaccines = {row["vaccine"] for row in csv.DictReader(f)}
    assert vaccines == set(contract("immunizations").column("vaccine").codes)


def test_check_mode_fails_on_a_stale_sources_file(tmp_path, monkeypatch):
    stale = tmp_path / "_sources.yml"
    stale.write_text(render().replace("not_null", "unique", 1), encoding="utf-8")
    monkeypatch.setattr("kodomo.dbt_sources.SOURCES_PATH", stale)
    assert main(["--check"]) == 1
    main([])
    assert main(["--check"]) == 0
