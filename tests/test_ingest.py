"""Contract-driven ingestion of hand-made landings: encodings, quarantine rules, versioning, idempotency."""
from __future__ import annotations

import duckdb
import pytest

from kodomo.contracts import contract
from kodomo.ingest import load_feed
from kodomo.ingest.store import read_report, write_feed
from tests.conftest import AGENCIES, report_row

AGENCY_IDS = frozenset(a["agency_id"] for a in AGENCIES)


def load_reports(root):
    return load_feed(contract("case_reports"), root, AGENCY_IDS)


def test_cp932_file_with_ibm_extension_kanji_is_detected_and_names_kept(landing):
    landing.deliver("case_reports", "111007_20210630_1.csv",
                    [report_row(child_name="髙﨑 花子", child_kana="たかさき はなこ")], encoding="cp932")
    load = load_reports(landing.root)
    assert load.files.loc[0, "encoding"] == "cp932"
    assert load.valid.loc[0, "child_name"] == "髙﨑 花子"
    assert load.valid.loc[0, "child_kana"] == "タカサキ ハナコ"


@pytest.mark.parametrize(("encoding", "newline"), [("utf-8", "\n"), ("utf-8-sig", "\r\n"), ("cp932", "\r\n")])
def test_every_allowed_encoding_and_line_ending_loads(landing, encoding, newline):
    landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()], encoding=encoding, newline=newline)
    load = load_reports(landing.root)
    assert load.files.loc[0, "encoding"] == encoding
    assert load.files.loc[0, "line_ending"] == ("crlf" if newline == "\r\n" else "lf")
    assert load.report["records"] == 1 and load.report["rows_quarantined"] == 0


def test_shuffled_and_extra_columns(landing):
    row = report_row() | {"memo": "x"}
    header = list(reversed(list(row)))
    landing.deliver("case_reports", "111007_20210630_1.csv", [row], header=header)
    load = load_reports(landing.root)
    assert load.report["records"] == 1
    assert load.files.loc[0, "extra_columns"] == "memo"
    assert load.valid.loc[0, "report_id"] == "R001"


def test_missing_required_column_quarantines_the_file_and_the_rest_still_loads(landing):
    row = report_row()
    landing.deliver("case_reports", "111007_20210630_1.csv", [row], header=[c for c in row if c != "route"])
    landing.deliver("case_reports", "111007_20210731_1.csv", [report_row(report_id="R002")])
    load = load_reports(landing.root)
    bad = load.files[load.files["status"] == "quarantined"]
    assert bad["rule"].tolist() == ["missing_required_column"]
    assert "route" in bad["detail"].iloc[0]
    assert load.report["files_quarantined"] == 1 and load.report["files_read"] == 2
    assert load.report["rows_quarantined"] == 0  # a whole-file quarantine counts only as a file
    assert load.valid["report_id"].tolist() == ["R002"]


@pytest.mark.parametrize(
    ("overrides", "rule", "column"),
    [
        ({"route": ""}, "required_missing", "route"),
        ({"child_kana": " "}, "required_missing", "child_kana"),
        ({"route": "postman"}, "invalid_code", "route"),
        ({"abuse_types": "physical;hitting"}, "invalid_code", "abuse_types"),
        ({"sex": "3"}, "invalid_code", "sex"),
        ({"address_municipality_code": "111008"}, "invalid_municipality_code", "address_municipality_code"),
        ({"agency_id": "999997"}, "invalid_agency_id", "agency_id"),
        ({"received_at": "2021-02-30 10:00"}, "invalid_date", "received_at"),
        ({"birth_date": "令和0年5月1日"}, "invalid_date", "birth_date"),
        ({"received_at": "H31.5.1"}, "invalid_date", "received_at"),
        ({"received_at": "2021-07-01 10:00"}, "future_date", "received_at"),
        ({"updated_at": "2021-07-01"}, "future_date", "updated_at"),
        ({"received_at": "2017-04-01 10:00"}, "before_birth", "received_at"),
        ({"temporary_protection": "yes"}, "conditional_required", "temporary_protection_at"),
    ],
)
def test_each_row_rule_is_quarantined_with_its_rule_and_column(landing, overrides, rule, column):
    landing.deliver("case_reports", "111007_20210630_1.csv",
                    [report_row(report_id="R000"), report_row(**overrides)])
    load = load_reports(landing.root)
    q = load.quarantine
    assert (q["rule"].tolist(), q["column"].tolist(), q["line"].tolist()) == ([rule], [column], [3])
    assert load.report["quarantine_by_rule"] == {rule: 1}
    assert load.valid["report_id"].tolist() == ["R000"]  # nothing valid is lost
    assert "R001" in q["raw_text"].iloc[0]


def test_numbers_ranges_and_conditionals_of_checkups(landing):
    base = {"agency_id": "111007", "updated_at": "2021-06-01", "local_child_id": "A1", "child_name": "山田 一郎",
            "child_kana": "ヤマダ イチロウ", "sex": "1", "birth_date": "2020-01-10", "checkup_type": "m18",
            "scheduled_date": "2021-07-20", "status": "attended", "exam_date": "2021-06-01", "height_cm": "８０．５",
            "weight_kg": "10.2", "head_circumference_cm": "46", "result": "normal", "notes": ""}
    rows = [base, base | {"local_child_id": "A2", "height_cm": "131"}, base | {"local_child_id": "A3", "weight_kg": "ten"},
            base | {"local_child_id": "A4", "result": ""}, base | {"local_child_id": "A5", "status": "scheduled",
                                                                 "exam_date": "", "result": "", "height_cm": ""}]
    landing.deliver("checkups", "111007_20210630_1.csv", rows)
    load = load_feed(contract("checkups"), landing.root, AGENCY_IDS)
    assert dict(zip(load.quarantine["line"], load.quarantine["rule"])) == {
        3: "out_of_range", 4: "invalid_number", 5: "conditional_required"}
    valid = load.valid.set_index("local_child_id")
    assert valid.loc["A1", "height_cm"] == pytest.approx(80.5)  # full-width digits and point
    assert valid.index.tolist() == ["A1", "A5"]  # scheduled_date may lie after the delivery date


def test_latest_updated_at_wins_then_the_later_delivery(landing):
    landing.deliver("case_reports", "111007_20210630_1.csv", [
        report_row(updated_at="2021-05-01", substantiated="undetermined"),
        report_row(report_id="R002", updated_at="2021-05-01", substantiated="undetermined")])
    landing.deliver("case_reports", "111007_20210831_1.csv", [
        report_row(updated_at="2021-04-30", substantiated="no"),  # older version delivered later
        report_row(report_id="R002", updated_at="2021-05-01", substantiated="yes")])  # tie: later delivery wins
    load = load_reports(landing.root)
    assert dict(zip(load.valid["report_id"], load.valid["substantiated"])) == {"R001": "undetermined", "R002": "yes"}
    assert load.report["records"] == 2
    assert len(load.versions) == 4


def test_identical_rows_and_redelivered_files_are_one_row(landing):
    rows = [report_row(), report_row(), report_row(report_id="R002", route="??")]
    landing.deliver("case_reports", "111007_20210630_1.csv", rows)
    landing.deliver("case_reports", "111007_20210630_2.csv", rows, encoding="cp932", newline="\r\n")
    load = load_reports(landing.root)
    assert load.report["records"] == 1
    assert load.report["rows_quarantined"] == 1  # the same invalid row delivered twice is one row
    assert len(load.quarantine) == 2  # but both occurrences are kept with their file and line


def test_a_corrected_redelivery_resolves_the_quarantined_row(landing):
    landing.deliver("case_reports", "111007_20210630_1.csv", [report_row(route="postman")])
    landing.deliver("case_reports", "111007_20210731_1.csv", [report_row(updated_at="2021-07-01")])
    load = load_reports(landing.root)
    q = load.quarantine.iloc[0]
    assert (q["status"], q["resolved_by"]) == ("resolved", "case_reports/111007_20210731_1.csv")
    assert load.report["records"] == 1


def test_malformed_rows_and_bad_file_names(landing):
    path = landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()])
    path.write_bytes(path.read_bytes() + b"111007,too,few,fields\n")
    landing.deliver("case_reports", "report_june.csv", [report_row(report_id="R009")])
    load = load_reports(landing.root)
    assert load.quarantine[["line", "rule"]].values.tolist() == [[3, "malformed_row"]]
    assert load.files.set_index("file").loc["case_reports/report_june.csv", "rule"] == "bad_file_name"
    assert load.report["records"] == 1


def test_quoted_free_text_with_commas_and_line_breaks_keeps_line_numbers(landing):
    rows = [{"agency_id": "111007", "updated_at": "2021-06-01", "assessment_id": f"AS{i}", "report_id": "R001",
             "assessed_at": "2021-04-02", "assessor_id": "W1", "worker_decision": "protect",
             "worker_rationale": '頭を叩かれた、と本人が話す。\n"帰りたくない"'} for i in range(2)]
    for row in rows:
        row.update({c.name: "unknown" for c in contract("assessments").columns if c.item})
    rows[1]["injury_severity"] = "fatal"
    landing.deliver("assessments", "111007_20210630_1.csv", rows)
    load = load_feed(contract("assessments"), landing.root, AGENCY_IDS)
    assert load.quarantine["line"].tolist() == [4]  # the first record spans lines 2-3
    assert load.valid.loc[0, "worker_rationale"].endswith('"帰りたくない"')


def test_missing_feed_folder_is_no_files(landing):
    load = load_feed(contract("alerts"), landing.root, AGENCY_IDS)
    assert load.report["files_read"] == 0 and load.report["records"] == 0


def write_all(root, path):
    con = duckdb.connect(str(path))
    agencies = load_feed(contract("agencies"), root, frozenset())
    write_feed(con, contract("agencies"), agencies)
    ids = frozenset(agencies.valid["agency_id"])
    write_feed(con, contract("case_reports"), load_feed(contract("case_reports"), root, ids))
    return con


def snapshot(con) -> dict:
    tables = con.execute("select table_schema, table_name from information_schema.tables order by 1, 2").fetchall()
    return {f"{s}.{t}": con.execute(f'select * from "{s}"."{t}" order by all').fetchall() for s, t in tables}


def test_loading_the_same_landing_twice_changes_nothing(landing, tmp_path):
    landing.deliver("case_reports", "111007_20210630_1.csv", [report_row(), report_row(report_id="R2", route="?")])
    con = write_all(landing.root, tmp_path / "w.duckdb")
    first = snapshot(con)
    con.close()
    con = write_all(landing.root, tmp_path / "w.duckdb")
    assert snapshot(con) == first
    assert read_report(con)["case_reports"]["rows_quarantined"] == 1
    assert first["valid.case_reports"] and first["quarantine.rows"]
