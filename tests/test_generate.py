"""The synthetic world generator: landing layout, mess, determinism and an exact ground truth.

Two small worlds are generated per module, and every test of a world runs on both: ``small`` itself,
made in one piece, and the same size made as large scales are (shards of families simulated apart,
groups of agencies written apart, in two processes). A compact reference reader below re-reads every
delivered file with the contracts and the shared parsers, so the truth is checked against the files
themselves, not against what the generator believes it wrote.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections import Counter
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from kodomo.contracts import FEEDS, Contract, contract, row_rules
from kodomo.parsing.codes import is_municipality_code
from kodomo.parsing.dates import DateError, parse_date, parse_datetime
from kodomo.synthetic import generate
from kodomo.synthetic.geography import build_geography
from kodomo.synthetic.scales import SCALES, Scale
from kodomo.synthetic.shards import agency_groups

SEED = 0
SHARDED = Scale("small-sharded", children=1_500, municipalities_per_prefecture=6, cgcs_per_prefecture=2,
                incident_rate=0.35, children_per_shard=500, agency_groups=3)
TRUTH_FILES = {"manifest.json", "expected_ingest.json", "quarantined_rows.csv", "quarantined_files.csv",
               "mess.json", "child_records.csv", "children.csv", "intakes.csv"}
FILE_NAME = re.compile(r"(?P<agency>[^_]+)_(?P<date>\d{8})_(?P<seq>\d+)\.csv")


@pytest.fixture(scope="module", params=[SCALES["small"], SHARDED], ids=["small", "sharded"])
def scale(request) -> Scale:
    return request.param


@pytest.fixture(scope="module")
def world(scale, tmp_path_factory) -> tuple[Path, Path]:
    landing = tmp_path_factory.mktemp("gen") / "landing"
    truth = generate(landing, scale=scale, seed=SEED, progress=lambda _: None)
    return landing, truth


@pytest.fixture(scope="module")
def landing(world) -> Path:
    return world[0]


@pytest.fixture(scope="module")
def truth(world) -> Path:
    return world[1]


# --- a reference reader -------------------------------------------------------------------------
def decode(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8"), "utf-8-sig"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp932"), "cp932"


def records(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(normalised header, [(start line, fields)]) of a delivered file."""
    text, _ = decode(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""))
    header, rows, next_line = None, [], 1
    for fields in reader:
        start, next_line = next_line, reader.line_num + 1
        if fields in ([], [""]):
            continue
        if header is None:
            header = [unicodedata.normalize("NFKC", f).strip().lower() for f in fields]
        else:
            rows.append((start, fields))
    return header, rows


def feed_files(landing: Path, feed: str) -> list[Path]:
    return sorted((landing / contract(feed).path).glob("*.csv"))


def delivery_day(path: Path) -> dt.date:
    return dt.datetime.strptime(FILE_NAME.fullmatch(path.name)["date"], "%Y%m%d").date()


@cache
def _day(text: str, kind: str) -> dt.date | None:
    try:
        return (parse_datetime(text).date() if kind == "datetime" else parse_date(text))
    except DateError:
        return None


def violations(c: Contract, row: dict[str, str], delivery: dt.date, agencies: set[str]) -> list[str]:
    """Every rule of row_rules() the row breaks, in reporting order (source-feeds.md §6)."""
    found, days, numbers = set(), {}, {}
    for col in c.columns:
        raw = row.get(col.name, "")
        text = raw.strip() if col.type in ("name", "text") else unicodedata.normalize("NFKC", raw).strip()
        if text == "":
            if col.required:
                found.add("required_missing")
            continue
        if col.type == "code" and text.lower() not in col.codes:
            found.add("invalid_code")
        if col.type == "code_set" and not all(e.strip().lower() in col.codes for e in text.split(col.separator)):
            found.add("invalid_code")
        if col.type == "municipality_code" and not is_municipality_code(text):
            found.add("invalid_municipality_code")
        if col.type == "agency_ref" and text.upper() not in agencies:
            found.add("invalid_agency_id")
        if col.is_temporal:
            days[col.name] = _day(text, col.type)
            if days[col.name] is None:
                found.add("invalid_date")
        if col.type in ("integer", "decimal"):
            pattern = r"[+-]?\d+" if col.type == "integer" else r"[+-]?(\d+(\.\d*)?|\.\d+)"
            if re.fullmatch(pattern, text):
                numbers[col.name] = float(text)
            else:
                found.add("invalid_number")
    birth = days.get("birth_date")
    for col in c.columns:
        day = days.get(col.name)
        if day is None:
            continue
        if day > delivery and not col.future_ok:
            found.add("future_date")
        if birth and not col.birth_date and col.name != "updated_at" and day < birth:
            found.add("before_birth")
    for name, value in numbers.items():
        col = c.column(name)
        if (col.min is not None and value < col.min) or (col.max is not None and value > col.max):
            found.add("out_of_range")
    for rule in c.rules:
        applies = all(unicodedata.normalize("NFKC", row.get(k, "")).strip().lower() == v for k, v in rule.when.items())
        if applies and not row.get(rule.required, "").strip():
            found.add("conditional_required")
    return [r for r in row_rules() if r in found]


def quarantined_files(truth: Path) -> dict[str, str]:
    table = pd.read_csv(truth / "quarantined_files.csv")
    return dict(zip(table["file"], table["rule"]))


def read_files(landing: Path, truth: Path):
    """Every file that is read (not quarantined whole): (feed, relative path, header, records, delivery)."""
    skipped = quarantined_files(truth)
    for feed in FEEDS[1:]:
        for path in feed_files(landing, feed):
            rel = path.relative_to(landing).as_posix()
            if rel not in skipped:
                header, rows = records(path)
                yield feed, rel, header, rows, delivery_day(path)


def agency_ids(landing: Path) -> set[str]:
    return set(pd.read_csv(landing / "agencies.csv", dtype=str)["agency_id"])


def file_texts(landing: Path) -> dict[str, tuple[str, bytes]]:
    out = {}
    for feed in FEEDS[1:]:
        for path in feed_files(landing, feed):
            data = path.read_bytes()
            try:
                out[path.relative_to(landing).as_posix()] = (decode(data)[0], data)
            except UnicodeDecodeError:
                continue  # the intentionally undecodable file
    return out


@pytest.fixture(scope="module")
def texts(landing) -> dict[str, tuple[str, bytes]]:
    return file_texts(landing)


@pytest.fixture(scope="module")
def all_text(texts) -> str:
    return "\n".join(text for text, _ in texts.values())


# --- layout -------------------------------------------------------------------------------------
def test_landing_has_the_spec_layout_and_file_names(landing, truth):
    assert (landing / "agencies.csv").is_file()
    bad_names = {f for f, rule in quarantined_files(truth).items() if rule == "bad_file_name"}
    agencies = agency_ids(landing)
    for feed in FEEDS[1:]:
        files = feed_files(landing, feed)
        assert files, feed
        for path in files:
            rel = path.relative_to(landing).as_posix()
            m = FILE_NAME.fullmatch(path.name)
            if rel in bad_names:
                assert m is None
                continue
            assert m and m["agency"] in agencies, rel
            dt.datetime.strptime(m["date"], "%Y%m%d")
    assert sorted(p.name for p in landing.iterdir()) == sorted(["agencies.csv", *(contract(f).path for f in FEEDS[1:])])


def test_agencies_are_clean_and_cover_two_prefectures(landing):
    agencies = pd.read_csv(landing / "agencies.csv", dtype=str, keep_default_na=False)
    assert list(agencies.columns) == list(contract("agencies").column_names)
    municipalities = agencies[agencies["agency_type"] == "municipality"]
    centres = agencies[agencies["agency_type"] == "cgc"]
    assert municipalities["agency_id"].map(is_municipality_code).all()
    assert set(municipalities["cgc_id"]) <= set(centres["agency_id"])
    assert centres["agency_id"].str.fullmatch(r"C\d{4}").all()
    assert agencies["prefecture_code"].nunique() == 2


def test_truth_is_outside_the_landing_with_exactly_its_files(scale, landing, truth):
    assert truth == landing.parent / f"{landing.name}-truth"
    assert sorted(p.name for p in truth.iterdir()) == sorted(TRUTH_FILES)
    assert sorted(p.name for p in landing.parent.iterdir()) == sorted([landing.name, truth.name])  # no scratch left
    manifest = json.loads((truth / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["scale"] == scale.name and manifest["seed"] == SEED and manifest["landing"] == landing.name
    assert len(manifest["prefectures"]) == 2
    named = [p for f in FEEDS[1:] for p in feed_files(landing, f) if FILE_NAME.fullmatch(p.name)]
    last_delivery = max(delivery_day(p) for p in named)
    assert manifest["data_end"] == last_delivery.isoformat()


def test_same_seed_gives_identical_bytes_and_overwrites_cleanly(scale, landing, truth, tmp_path):
    """Also in one process instead of two: the pieces of a sharded world never depend on who runs them."""
    again = tmp_path / "again"
    again.mkdir()
    (again / "agencies.csv").write_text("stale", encoding="utf-8")
    (again / "stale.csv").write_text("stale", encoding="utf-8")
    second = generate(again, scale=scale, seed=SEED, progress=lambda _: None, workers=1)
    assert _digest(again) == _digest(landing)
    assert _digest(second) == _digest(truth, rename={landing.name: "again"})


def test_a_different_seed_gives_a_different_world(scale, landing, tmp_path):
    generate(tmp_path / "other", scale=scale, seed=SEED + 1, progress=lambda _: None)
    assert _digest(tmp_path / "other") != _digest(landing)


def _digest(folder: Path, rename: dict[str, str] | None = None) -> dict[str, str]:
    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            for old, new in (rename or {}).items():
                data = data.replace(f'"landing": "{old}"'.encode(), f'"landing": "{new}"'.encode())
            out[path.relative_to(folder).as_posix()] = hashlib.sha256(data).hexdigest()
    return out


def test_unknown_scale_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown scale"):
        generate(tmp_path / "x", scale="galaxy")


def test_a_folder_that_is_not_a_landing_is_never_removed(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ValueError, match="not a landing"):
        generate(precious, scale="small")
    assert (precious / "thesis.txt").is_file()


# --- headers and rows ---------------------------------------------------------------------------
def test_every_read_file_has_the_required_columns_and_only_the_broken_one_lacks_one(landing, truth):
    skipped = quarantined_files(truth)
    broken = {f for f, rule in skipped.items() if rule == "missing_required_column"}
    assert broken
    for feed in FEEDS[1:]:
        required = set(contract(feed).required_columns)
        for path in feed_files(landing, feed):
            rel = path.relative_to(landing).as_posix()
            if skipped.get(rel) in ("undecodable", "empty_file"):
                continue
            header, _ = records(path)
            assert (required <= set(header)) == (rel not in broken), rel


def test_the_truth_is_exactly_what_the_files_say(landing, truth):
    """Re-validate every row of every read file: the invalid ones are exactly quarantined_rows.csv,
    each breaks one rule only, and every other row is valid (so no valid date is after its delivery)."""
    agencies = agency_ids(landing)
    expected = pd.read_csv(truth / "quarantined_rows.csv")
    expected_rules = {(r.file, r.line): r.rule for r in expected.itertuples()}
    found = {}
    for feed, rel, header, rows, delivery in read_files(landing, truth):
        c = contract(feed)
        for line, fields in rows:
            if len(fields) != len(header):
                found[(rel, line)] = "malformed_row"
                continue
            broken = violations(c, dict(zip(header, fields)), delivery, agencies)
            if broken:
                assert len(broken) == 1, (rel, line, broken)
                found[(rel, line)] = broken[0]
    assert found == expected_rules


def test_expected_ingest_counts_agree_with_the_files(landing, truth):
    ingest = json.loads((truth / "expected_ingest.json").read_text(encoding="utf-8"))
    assert set(ingest) == set(FEEDS)
    skipped = pd.read_csv(truth / "quarantined_files.csv")
    rows = pd.read_csv(truth / "quarantined_rows.csv")
    for feed in FEEDS[1:]:
        report = ingest[feed]
        assert report["files_read"] == len(feed_files(landing, feed))
        assert report["files_quarantined"] == (skipped["feed"] == feed).sum()
        assert sum(report["quarantine_by_rule"].values()) == report["rows_quarantined"]
        occurrences = (rows["feed"] == feed).sum()
        assert 0 < report["rows_quarantined"] <= occurrences
        assert report["records"] > 0
    assert ingest["agencies"]["records"] == len(agency_ids(landing))
    assert sum(r["files_quarantined"] for r in ingest.values()) >= 1


def test_every_row_rule_occurs(truth):
    rules = set(pd.read_csv(truth / "quarantined_rows.csv")["rule"])
    assert rules == set(row_rules())


def test_invalid_rows_are_a_small_share(landing, truth):
    total = sum(len(rows) for *_, rows, _ in read_files(landing, truth))
    invalid = len(pd.read_csv(truth / "quarantined_rows.csv"))
    assert 0.003 < invalid / total < 0.03


def test_a_quarantined_row_is_re_delivered_corrected(landing, truth):
    """Some invalid row's key shows up again, valid, in a later file of the same agency."""
    quarantined = pd.read_csv(truth / "quarantined_rows.csv")
    bad = set(zip(quarantined["file"], quarantined["line"]))
    c = contract("immunizations")
    keys_bad, keys_good = set(), set()
    for feed, rel, header, rows, _ in read_files(landing, truth):
        if feed != "immunizations":
            continue
        for line, fields in rows:
            row = dict(zip(header, fields))
            key = tuple(unicodedata.normalize("NFKC", row.get(k, "")).strip().lower() for k in c.key)
            (keys_bad if (rel, line) in bad else keys_good).add((key, rel))
    corrected = {k for k, f in keys_bad} & {k for k, f in keys_good}
    assert corrected


# --- the mess -----------------------------------------------------------------------------------
def test_every_encoding_and_line_ending(texts):
    encodings = Counter(decode(data)[1] for _, data in texts.values() if any(b > 127 for b in data[:4000]))
    assert {"utf-8", "utf-8-sig", "cp932"} <= set(encodings)
    assert any(b"\r\n" in data for _, data in texts.values())
    assert any(b"\n" in data and b"\r\n" not in data for _, data in texts.values())


def test_cp932_files_carry_kanji_only_cp932_has(texts):
    cp932 = "".join(text for text, data in texts.values() if decode(data)[1] == "cp932")
    assert "髙" in cp932 and "﨑" in cp932


DATE_FORMS = {
    "2021-04-01": r"(?<![\d/])\d{4}-\d{2}-\d{2}",
    "2021/4/1": r"(?<![\d/])\d{4}/[1-9]/[1-9](?!\d)",
    "2021/04/01": r"(?<![\d/])\d{4}/\d{2}/\d{2}",
    "令和3年4月1日": r"令和([2-9]|1\d)年\d{1,2}月\d{1,2}日",
    "令和元年5月1日": r"令和元年\d{1,2}月\d{1,2}日",
    "R3.4.1": r"R[1-9]\.\d{1,2}\.\d{1,2}",
    "R03.04.01": r"R0\d\.\d{2}\.\d{2}",
    "H31.4.30": r"H\d{1,2}\.\d{1,2}\.\d{1,2}",
    "平成31年4月30日": r"平成\d{1,2}年\d{1,2}月\d{1,2}日",
    "S63.12.31": r"S\d{1,2}\.\d{1,2}\.\d{1,2}",
}


@pytest.mark.parametrize("form", DATE_FORMS)
def test_every_date_form_of_the_spec_appears(all_text, form):
    assert re.search(DATE_FORMS[form], unicodedata.normalize("NFKC", all_text)), form


def test_dates_cross_the_heisei_reiwa_boundary_in_reports(landing, truth):
    received = pd.to_datetime(pd.read_csv(truth / "intakes.csv")["received_at"])
    assert (received < "2019-05-01").any() and (received >= "2019-05-01").any()


def test_full_width_digits_and_kana_forms(all_text):
    assert re.search("[０-９]{2}", all_text)
    assert re.search("[ｦ-ﾝ]{2}", all_text)  # half-width katakana
    assert re.search("[ぁ-ゖ]{3}", all_text)  # hiragana readings
    assert re.search("[ァ-ヶ]{3}", all_text)


def test_names_with_and_without_spaces_and_old_kanji(landing, truth):
    names = Counter()
    for feed, _, header, rows, _ in read_files(landing, truth):
        if "child_name" in header:
            i = header.index("child_name")
            for _, fields in rows:
                if len(fields) == len(header):
                    name = fields[i]
                    names["fullwidth_space" if "\u3000" in name else "space" if " " in name else "none"] += 1
                    names["old_kanji"] += any(ch in name for ch in "髙﨑邊邉齋齊澤濵濱")
    assert names["fullwidth_space"] and names["space"] and names["none"] and names["old_kanji"]


def test_codes_in_mixed_case_with_spaces(all_text):
    assert re.search(r"(^|,)\"?( police |POLICE|Police)\"?(,|$)", all_text, re.M)
    assert re.search(r"(^|,)\"?(YES|Yes| yes )\"?(,|$)", all_text, re.M)


def test_shuffled_and_extra_columns(landing):
    firsts, extras = set(), 0
    for feed in FEEDS[1:]:
        known = set(contract(feed).column_names)
        for path in feed_files(landing, feed):
            try:
                header, _ = records(path)
            except UnicodeDecodeError:
                continue
            if header:
                firsts.add((feed, header[0]))
                extras += bool(set(header) - known)
    assert len({first for feed, first in firsts if feed == "case_reports"}) > 1
    assert extras > 0


def test_free_text_with_commas_quotes_and_line_breaks(all_text):
    assert re.search(r'"[^"]*\n[^"]*"', all_text)  # a quoted cell spanning lines
    assert '""' in all_text  # an escaped quote inside a cell
    assert re.search(r'"[^",\n]*, [^"\n]*"', all_text)


def test_redelivered_files_and_duplicate_rows(landing, truth, texts):
    digests = Counter(hashlib.sha256(data).hexdigest() for _, data in texts.values() if data.count(b"\n") > 1)
    assert max(digests.values()) >= 2
    duplicated = 0
    for *_, rows, _ in read_files(landing, truth):
        seen = Counter(tuple(fields) for _, fields in rows)
        duplicated += sum(n - 1 for n in seen.values())
    assert duplicated > 0


def test_rows_are_updated_in_later_deliveries(landing, truth):
    states: dict[tuple, list[tuple[dt.date, str]]] = {}
    for feed, _, header, rows, delivery in read_files(landing, truth):
        if feed not in ("case_reports", "checkups"):
            continue
        key_columns = contract(feed).key
        value = "substantiated" if feed == "case_reports" else "status"
        for _, fields in rows:
            row = dict(zip(header, fields))
            key = (feed, *(unicodedata.normalize("NFKC", row.get(k, "")).strip().lower() for k in key_columns))
            states.setdefault(key, []).append((delivery, row.get(value, "").strip().lower()))
    changes = Counter()
    for (feed, *_), seen in states.items():
        seen.sort()
        first, last = seen[0][1], seen[-1][1]
        changes[(feed, first, last)] += 1
    assert changes[("case_reports", "undetermined", "yes")] and changes[("case_reports", "undetermined", "no")]
    assert changes[("checkups", "scheduled", "attended")] and changes[("checkups", "scheduled", "no_show")]


def test_checkups_are_scheduled_ahead_of_delivery(landing, truth):
    ahead = 0
    for feed, _, header, rows, delivery in read_files(landing, truth):
        if feed == "checkups":
            i = header.index("scheduled_date")
            ahead += sum(1 for _, f in rows if len(f) == len(header) and (_day(f[i], "date") or delivery) > delivery)
    assert ahead > 0


def test_mess_json_counts_the_injected_mess(truth):
    mess = json.loads((truth / "mess.json").read_text(encoding="utf-8"))
    assert set(mess["agency_habits"]["encoding"]) == {"utf-8", "utf-8-sig", "cp932"}
    assert mess["kana_typos"] > 0 and mess["variant_kanji_records"] > 0
    assert all(mess["birth_date_typos"].values())
    assert mess["twin_pairs"]["in_landing"] > 0 and mess["children_with_surname_change"]["in_landing"] > 0
    assert all(n > 0 for n in mess["dates"]["cells_by_form"].values())
    assert mess["files"]["redelivered_identical_copies"] > 0 and mess["files"]["corrected_redeliveries"] > 0
    for feed in FEEDS[1:]:
        assert mess["rows"][feed]["invalid_rows"] and mess["rows"][feed]["duplicate_rows"] >= 0


# --- identities ---------------------------------------------------------------------------------
def test_twins_share_surname_and_birth_date_but_not_identity(truth):
    children = pd.read_csv(truth / "children.csv", dtype=str, keep_default_na=False)
    twins = children[children["twin_of"] != ""]
    partner = children.set_index("child_id").loc[twins["twin_of"]]
    assert len(twins) >= 2
    assert (partner["birth_date"].to_numpy() == twins["birth_date"].to_numpy()).all()
    assert (partner["family_id"].to_numpy() == twins["family_id"].to_numpy()).all()
    records = pd.read_csv(truth / "child_records.csv", dtype=str)
    both = records[records["child_id"].isin(twins["child_id"])]
    shared = both.groupby("agency_id")["child_id"].nunique()
    assert (shared >= 2).any()  # two twins known to one agency, under two local ids


def test_child_records_link_one_child_across_agencies(truth):
    records = pd.read_csv(truth / "child_records.csv", dtype=str)
    assert not records.duplicated(["agency_id", "local_child_id"]).any()
    agencies_per_child = records.groupby("child_id")["agency_id"].nunique()
    assert (agencies_per_child >= 2).mean() > 0.05
    assert records.groupby("agency_id")["local_child_id"].apply(lambda s: s.str[:1].nunique()).max() == 1


def test_a_child_who_moves_is_one_child_in_the_files_of_every_group_of_agencies(scale, landing, truth):
    """Families move between municipalities whose files different groups of agencies write apart (in a
    sharded world): the move is recorded at both ends and the truth still knows one child."""
    geography = build_geography(scale.municipalities_per_prefecture, scale.cgcs_per_prefecture)
    groups = agency_groups(geography, scale.agency_groups)
    group_of = {geography.agencies[a].agency_id: g for g, members in enumerate(groups) for a in members}
    assert set(group_of) == agency_ids(landing)
    records = pd.read_csv(truth / "child_records.csv", dtype=str)
    municipal = records[~records["agency_id"].str.startswith("C")]
    spans = municipal.assign(group=municipal["agency_id"].map(group_of)).groupby("child_id").agg(
        municipalities=("agency_id", "nunique"), groups=("group", "nunique"))
    assert (spans["municipalities"] >= 2).sum() > 10
    assert (spans["groups"] >= 2).sum() > 10 or len(groups) == 1


# --- the outcome ----------------------------------------------------------------------------------
def _auc(score: pd.Series, label: pd.Series) -> float:
    ranks = score.rank()
    positives = int(label.sum())
    negatives = len(label) - positives
    return (ranks[label == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)


def test_outcomes_and_oracle_risk_are_plausible(truth):
    intakes = pd.read_csv(truth / "intakes.csv")
    closed = intakes[intakes["window_closed"] == 1]
    assert len(closed) > 500 and 0 < (intakes["window_closed"] == 0).sum() < len(intakes) / 2
    assert 0.08 < closed["outcome"].mean() < 0.4
    assert abs(closed["oracle_risk"].mean() - closed["outcome"].mean()) < 0.05
    assert 0.7 < _auc(closed["oracle_risk"], closed["outcome"]) < 0.9


def test_window_closed_follows_the_data_end(truth):
    intakes = pd.read_csv(truth / "intakes.csv")
    data_end = pd.Timestamp(json.loads((truth / "manifest.json").read_text())["data_end"])
    received = pd.to_datetime(intakes["received_at"]).dt.normalize()
    assert ((received + pd.Timedelta(days=365) <= data_end) == intakes["window_closed"].astype(bool)).all()


def test_intakes_are_the_valid_reports(landing, truth):
    intakes = pd.read_csv(truth / "intakes.csv", dtype=str)
    ingest = json.loads((truth / "expected_ingest.json").read_text(encoding="utf-8"))
    assert len(intakes) == ingest["case_reports"]["records"]
    assert not intakes.duplicated(["agency_id", "report_id"]).any()


def test_simulation_parameters_speak_the_contracts_codes():
    """The simulation's tables are keyed by contract codes; none may drift from the contracts."""
    from kodomo.synthetic import cases, health, phrases, risk, schedule

    def codes(feed: str, column: str) -> set[str]:
        return set(contract(feed).column(column).codes)

    assert set(cases._ROUTES["physical"]) == codes("case_reports", "route") == set(phrases.ROUTE_WORDS)
    assert all(set(table) == codes("case_reports", "route") for table in cases._ROUTES.values())
    assert set(cases._TYPES) == codes("case_reports", "abuse_types")
    assert set(schedule.CHECKUP_AGE) == set(schedule.CHECKUP_ATTEND_LOGIT) == codes("checkups", "checkup_type")
    assert set(health._RESULTS) == codes("checkups", "result")
    assert {d.vaccine for d in schedule.DOSES} == codes("immunizations", "vaccine")
    assert all(1 <= d.dose <= contract("immunizations").column("dose").max for d in schedule.DOSES)
    assert set(risk.PROTECTION_SHARE) == codes("assessments", "worker_decision")
    items = {c.name for c in contract("assessments").columns if c.item}
    assert set(risk._YES_WEIGHT) | {"injury_severity", "child_disclosure"} == items
    assert set(risk._DISCLOSURE_WEIGHT) == codes("assessments", "child_disclosure")
    assert set(risk._SEVERITY_WEIGHT) == codes("assessments", "injury_severity")
