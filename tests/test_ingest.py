"""Contract-driven ingestion of hand-made landings: encodings, quarantine rules, versioning, idempotency."""
from __future__ import annotations

import shutil

import duckdb
import pytest

from kodomo.contracts import contract
from kodomo.ingest import load_feed
from kodomo.ingest.feed import ingest_feed
from kodomo.ingest.archive import Archive, ArchiveError
from kodomo.ingest.store import read_report
from tests.conftest import AGENCIES, LandingBuilder, csv_bytes, report_row

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
    ingest_feed(con, contract("agencies"), root, frozenset())
    ids = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
    ingest_feed(con, contract("case_reports"), root, ids)
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


# --- the warehouse accumulates: the landing is a drop zone (source-feeds.md §1 v1.1) -----------------

def ingest(root, con, archive) -> None:
    """What the pipeline's ingestion assets do for agencies and two feeds, with the platform's archive."""
    ingest_feed(con, contract("agencies"), root, frozenset(), archive=archive)
    ids = frozenset(r[0] for r in con.execute("select agency_id from valid.agencies").fetchall())
    for feed in ("case_reports", "checkups"):
        ingest_feed(con, contract(feed), root, ids, archive=archive)


def checkup_row(**overrides) -> dict:
    row = {"agency_id": "111007", "updated_at": "2021-06-01", "local_child_id": "A001", "child_name": "髙橋 太郎",
           "child_kana": "タカハシ タロウ", "sex": "1", "birth_date": "H30.1.2", "checkup_type": "y3",
           "scheduled_date": "2021-06-01", "status": "attended", "exam_date": "2021-06-01", "height_cm": "95",
           "weight_kg": "14", "head_circumference_cm": "", "result": "normal", "notes": ""}
    return row | overrides


def full_landing(landing):
    landing.deliver("case_reports", "111007_20210630_1.csv",
                    [report_row(), report_row(report_id="R002", route="postman")])
    landing.deliver("case_reports", "111007_20210731_1.csv",
                    [report_row(updated_at="2021-07-01", substantiated="yes"), report_row(report_id="R003")])
    landing.deliver("checkups", "111007_20210630_1.csv", [checkup_row(), checkup_row(local_child_id="A2", sex="x")])
    return landing


def warehouse(tmp_path, name):
    return duckdb.connect(str(tmp_path / f"{name}.duckdb"))


def test_a_landing_with_only_agencies_csv_after_a_full_load_changes_nothing(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    con = warehouse(tmp_path, "w")
    ingest(full_landing(landing).root, con, archive)
    before = snapshot(con)
    for feed in ("case_reports", "checkups"):
        shutil.rmtree(landing.root / feed)
    ingest(landing.root, con, archive)
    assert snapshot(con) == before
    assert len(before["valid.case_reports"]) == 2 and len(before["valid.checkups"]) == 1
    assert len(before["quarantine.rows"]) == 2


def test_a_landing_with_only_the_newest_files_keeps_the_earlier_ones(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    con = warehouse(tmp_path, "w")
    first = landing.deliver("case_reports", "111007_20210630_1.csv", [report_row(), report_row(report_id="R002")])
    ingest(landing.root, con, archive)
    first.unlink()
    landing.deliver("case_reports", "111007_20210731_1.csv",
                    [report_row(updated_at="2021-07-01", substantiated="yes"), report_row(report_id="R003")])
    ingest(landing.root, con, archive)
    valid = dict(con.execute("select report_id, substantiated from valid.case_reports").fetchall())
    assert valid == {"R001": "yes", "R002": "undetermined", "R003": "undetermined"}
    assert con.execute("select count(*) from valid.case_reports_versions").fetchone()[0] == 4
    files = con.execute("select file from meta.files where feed = 'case_reports' order by 1").fetchall()
    assert files == [("case_reports/111007_20210630_1.csv",), ("case_reports/111007_20210731_1.csv",)]
    assert read_report(con)["case_reports"]["files_read"] == 2


def test_the_same_file_delivered_again_is_a_no_op(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    con = warehouse(tmp_path, "w")
    path = landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()])
    ingest(landing.root, con, archive)
    before, kept = snapshot(con), sorted(p.name for p in (tmp_path / "archive" / "case_reports").iterdir())
    content = path.read_bytes()
    path.unlink()
    ingest(landing.root, con, archive)  # gone from the landing
    path.write_bytes(content)
    ingest(landing.root, con, archive)  # delivered again
    assert snapshot(con) == before
    assert sorted(p.name for p in (tmp_path / "archive" / "case_reports").iterdir()) == kept
    assert len(kept) == 1 and kept[0].startswith("111007_20210630_1.csv.000001.")


def test_archived_files_and_the_landing_load_as_one_landing_of_every_file(tmp_path):
    everything = full_landing(LandingBuilder(tmp_path / "all"))
    single = warehouse(tmp_path, "single")
    ingest(everything.root, single, Archive(tmp_path / "archive-single"))

    archive = Archive(tmp_path / "archive")
    con = warehouse(tmp_path, "union")
    early = LandingBuilder(tmp_path / "early")
    early.deliver("case_reports", "111007_20210630_1.csv",
                  [report_row(), report_row(report_id="R002", route="postman")])
    ingest(early.root, con, archive)
    late = LandingBuilder(tmp_path / "late")
    for rel in ("case_reports/111007_20210731_1.csv", "checkups/111007_20210630_1.csv"):
        (late.root / rel).parent.mkdir(exist_ok=True)
        shutil.copy(everything.root / rel, late.root / rel)
    ingest(late.root, con, archive)
    assert snapshot(con) == snapshot(single)


def test_agencies_csv_versions_combine_the_later_wins_and_a_missing_agency_stays(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    con = warehouse(tmp_path, "w")
    ingest(landing.root, con, archive)
    renamed = [dict(AGENCIES[0], name="さいたま市役所"), AGENCIES[2]]  # 131016 and C1301 are not in the new list
    (landing.root / "agencies.csv").write_bytes(csv_bytes(renamed))
    landing.deliver("case_reports", "131016_20210630_1.csv", [report_row(agency_id="131016")])
    ingest(landing.root, con, archive)
    names = dict(con.execute("select agency_id, name from valid.agencies").fetchall())
    assert names == {"111007": "さいたま市役所", "131016": "千代田区", "C1101": "中央児童相談所",
                     "C1301": "東京都児童相談センター"}
    assert con.execute("select agency_id from valid.case_reports").fetchall() == [("131016",)]
    (landing.root / "agencies.csv").write_bytes(csv_bytes(AGENCIES))  # the first list again: already kept
    ingest(landing.root, con, archive)
    assert dict(con.execute("select agency_id, name from valid.agencies").fetchall()) == names
    assert len(list((tmp_path / "archive").glob("agencies.csv.*"))) == 2


def test_an_altered_archive_is_refused_with_the_file_named(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()])
    load_feed(contract("case_reports"), landing.root, AGENCY_IDS, archive=archive)
    (kept,) = (tmp_path / "archive" / "case_reports").iterdir()
    kept.chmod(0o644)
    kept.write_bytes(kept.read_bytes().replace(b"police", b"school"))
    with pytest.raises(ArchiveError, match=f"archived file {kept} does not match its sha256"):
        load_feed(contract("case_reports"), landing.root, AGENCY_IDS, archive=archive)


def test_a_write_killed_midway_leaves_no_entry_and_the_next_run_completes_it(landing, tmp_path):
    archive = Archive(tmp_path / "archive")
    path = landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()])
    folder = tmp_path / "archive" / "case_reports"
    folder.mkdir(parents=True)
    torn = folder / f".{path.name}.000001.{'0' * 64}.tmp-12345"
    torn.write_bytes(path.read_bytes()[:10])
    load = load_feed(contract("case_reports"), landing.root, AGENCY_IDS, archive=archive)
    assert load.report["records"] == 1
    assert [p.name.split(".")[2] for p in folder.iterdir()] == ["000001"] and not torn.exists()


# --- bad input: each refused or ignored with its rule, never silently --------------------------------

def test_a_header_naming_a_contract_column_twice_quarantines_the_file(landing):
    row = report_row()
    header = [*row, "report_id", "substantiated", "memo", "memo"]
    path = landing.deliver("case_reports", "111007_20210630_1.csv", [row], header=header)
    landing.deliver("case_reports", "111007_20210731_1.csv", [report_row(report_id="R002")],
                    header=[*row, "memo", "memo"])  # an unknown column twice is only unknown
    load = load_reports(landing.root)
    bad = load.files.set_index("file").loc["case_reports/" + path.name]
    assert (bad["status"], bad["rule"]) == ("quarantined", "duplicate_column")
    assert bad["detail"] == "column(s) named more than once in the header: report_id, substantiated"
    assert load.valid["report_id"].tolist() == ["R002"]
    assert load.report["files_quarantined"] == 1 and load.report["rows_quarantined"] == 0


def test_a_file_that_is_not_csv_is_listed_as_ignored_and_counted(landing, tmp_path):
    landing.deliver("case_reports", "111007_20210630_1.csv", [report_row()])
    (landing.root / "case_reports" / "readme.txt").write_text("sent by the transfer tool\n", encoding="utf-8")
    (landing.root / "case_reports" / "old").mkdir()
    load = load_reports(landing.root)
    ignored = load.files[load.files["status"] == "ignored"].set_index("file")["rule"].to_dict()
    assert ignored == {"case_reports/readme.txt": "not_csv", "case_reports/old": "not_a_file"}
    assert load.report["files_ignored"] == 2 and load.report["files_read"] == 1 and load.report["records"] == 1
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    ingest_feed(con, contract("case_reports"), landing.root, AGENCY_IDS)
    assert con.execute("select status, rule, detail from meta.files where file like '%readme.txt'").fetchall() == [
        ("ignored", "not_csv", "the file name does not end in .csv")]
    assert con.execute("select count(*) from quarantine.files").fetchone()[0] == 0


def test_links_leading_outside_the_landing_are_refused_and_never_read(landing, tmp_path):
    outside = LandingBuilder(tmp_path / "elsewhere")
    secret = outside.deliver("case_reports", "111007_20210630_1.csv", [report_row(report_id="SECRET")])
    landing.deliver("case_reports", "111007_20210731_1.csv", [report_row()])
    (landing.root / "case_reports" / "111007_20210630_1.csv").symlink_to(secret)
    inside = landing.root / "case_reports" / "111007_20210801_1.csv"
    inside.symlink_to(landing.root / "case_reports" / "111007_20210731_1.csv")  # within the landing: read
    archive = Archive(tmp_path / "archive")
    load = load_feed(contract("case_reports"), landing.root, AGENCY_IDS, archive=archive)
    refused = load.files.set_index("file").loc["case_reports/111007_20210630_1.csv"]
    assert (refused["status"], refused["rule"]) == ("quarantined", "outside_landing")
    assert "SECRET" not in load.raw["report_id"].tolist() and load.report["files_quarantined"] == 1
    assert not any("20210630" in p.name for p in (tmp_path / "archive" / "case_reports").iterdir())

    shutil.rmtree(landing.root / "case_reports")
    (landing.root / "case_reports").symlink_to(outside.root / "case_reports", target_is_directory=True)
    load = load_feed(contract("case_reports"), landing.root, AGENCY_IDS)
    assert load.files[["file", "status", "rule"]].values.tolist() == [
        ["case_reports", "quarantined", "outside_landing"]]
    assert load.raw.empty


def test_unknown_columns_values_are_stored_nowhere_only_their_names(landing, tmp_path):
    rows = [report_row() | {"担当者": "佐藤"}, report_row(report_id="R002", route="postman") | {"担当者": "佐藤"}]
    path = landing.deliver("case_reports", "111007_20210630_1.csv", rows)
    fields = [*report_row(report_id="R003").values(), "佐藤", "one field too many"]
    path.write_bytes(path.read_bytes() + ",".join(fields).encode() + b"\n")
    con = write_all(landing.root, tmp_path / "w.duckdb")
    assert "佐藤" not in repr(snapshot(con))
    assert con.execute("select extra_columns from meta.files where feed = 'case_reports'").fetchall() == [("担当者",)]
    texts = dict(con.execute("select rule, raw_text from quarantine.rows").fetchall())
    assert texts["invalid_code"].startswith("111007,2021-05-01 09:00,A001,髙橋 太郎,")  # contract columns, in order
    assert texts["malformed_row"] == ",".join(fields[:-2])  # the fields under the contract's columns only
    assert "_extra" not in [r[0] for r in con.execute("describe raw.case_reports").fetchall()]
