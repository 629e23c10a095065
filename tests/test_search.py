"""The caseworkers' search (kodomo/appdata/search.py) and `kodomo search`, on the shared scored small world."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import duckdb
import pytest
from sqlalchemy import select

from kodomo.appdata.access import SEARCH_CHILD, AccessDenied, load_agencies
from kodomo.appdata.accounts import Account
from kodomo.appdata.search import (AGREE, CLOSE, DIFFER, MAX_RESULTS, InvalidQuery, Query, find_children,
                                   parse_query, reason_text, search, search_lines)
from kodomo.cli import main
from kodomo.linkage.decisions import SAME, decide_pair, undecided_pairs
from kodomo.linkage.identify import load_model
from kodomo.operational import CASEWORKER, MANAGER, SUPERVISOR, audit_log, connect
from kodomo.settings import get_settings
from kodomo.synthetic.names import old_forms, to_halfwidth, to_hiragana


@pytest.fixture(scope="module")
def world(scored_world, tmp_path_factory):
    """A copy of the scored world's warehouse and linkage model, with a store of its own."""
    home = tmp_path_factory.mktemp("searchhome")
    shutil.copy(scored_world["home"] / "warehouse.duckdb", home / "warehouse.duckdb")
    shutil.copytree(scored_world["home"] / "linkage", home / "linkage")
    return home


@pytest.fixture
def settings(world, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(world))
    monkeypatch.setenv("KODOMO_ENV", "local")
    return get_settings()


@pytest.fixture
def con(settings):
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        yield con


@pytest.fixture
def model(settings, con):
    return load_model(settings.linkage_dir / "model.json", con)


def _children(con) -> list[dict]:
    """Named records (cut into surname and given name) with their child and birth date."""
    rows = con.execute("""select surname, given, surname_kana, given_kana, birth_date::date as birth_date, sex,
                                 person_key, agency_id
                          from linkage.person_records join linkage.person_links using (agency_id, local_child_id)
                          where surname is not null and given is not null and surname_kana is not null
                            and given_kana is not null
                          order by agency_id, local_child_id, child_name""").df()
    return [{**row, "birth_date": row["birth_date"].date()} for row in rows.to_dict("records")]


def _first(con, model, query: Query) -> str | None:
    [results] = find_children(con, model, [query])
    return results[0].person_key if results else None


def test_a_child_is_found_first_however_the_caseworker_types_it(con, model):
    children = _children(con)[::40][:25]
    assert len(children) == 25
    for c in children:
        birth = c["birth_date"]
        swapped = birth.replace(month=birth.day, day=birth.month) if birth.day <= 12 else birth + dt.timedelta(1)
        typed = [Query(f"{c['surname']} {c['given']}", to_hiragana(c["surname_kana"] + c["given_kana"]), birth),
                 Query(c["surname"] + c["given"], to_halfwidth(c["surname_kana"] + c["given_kana"]), birth),
                 Query(f"{c['surname']} {c['given']}", f"{c['surname_kana']} {c['given_kana']}", swapped)]
        for query in typed:
            assert _first(con, model, query) == c["person_key"], query


def test_an_old_kanji_form_finds_the_child_of_the_common_form(con, model):
    c = next(c for c in _children(con) if old_forms(c["surname"]))
    query = Query(f"{old_forms(c['surname'])[0]} {c['given']}", f"{c['surname_kana']} {c['given_kana']}",
                  c["birth_date"])
    [results] = find_children(con, model, [query])
    assert results[0].person_key == c["person_key"]
    assert results[0].reason("en") == "name, kana and birth date agree"


def test_results_are_ranked_with_score_reason_and_holders(con, model):
    c = _children(con)[7]
    [results] = find_children(con, model, [Query(f"{c['surname']} {c['given']}", "", c["birth_date"])])
    assert 1 <= len(results) <= MAX_RESULTS
    weights = [r.match_weight for r in results]
    assert weights == sorted(weights, reverse=True)
    assert all(0 <= r.score <= 1 and r.agencies for r in results)
    found = next(r for r in results if r.person_key == c["person_key"])
    assert c["agency_id"] in {h.agency_id for h in found.agencies}
    assert all(h.first_known <= h.last_known for h in found.agencies)


def test_a_search_by_kana_alone_ranks_the_reading_that_agrees_first(con, model):
    c = _children(con)[11]
    [results] = find_children(con, model, [Query("", f"{c['surname_kana']}{c['given_kana']}", c["birth_date"])])
    assert results[0].evidence["kana"] == (AGREE, None)
    assert results[0].reason("en") == "kana and birth date agree"


def test_the_reason_in_words_in_both_languages():
    evidence = {"surname": (DIFFER, None), "given_name": (AGREE, None), "birth_date": (AGREE, None)}
    assert reason_text(evidence, "en") == "given name and birth date agree; surname differs"
    assert reason_text(evidence, "ja") == "名と生年月日が一致、姓が不一致"
    slips = {"surname": (AGREE, None), "given_name": (CLOSE, "kana_slip"), "birth_date": (CLOSE, "date_slip")}
    assert reason_text(slips, "en") == ("surname agrees; given name: kana one character off; "
                                        "birth date a day off or day and month swapped")


@pytest.mark.parametrize("values, field", [({"kana": "ア", "birth_date": "2020-13-01"}, "birth_date"),
                                           ({"name": "佐藤", "sex": "9"}, "sex"),
                                           ({"birth_date": "2020-01-01"}, "a name or a kana"),
                                           ({"name": "佐藤", "address": "x"}, "address"),
                                           ({"name": 3}, "name")])
def test_a_bad_query_names_its_field(values, field):
    with pytest.raises(InvalidQuery, match=field):
        parse_query(values)


def _searches(engine) -> list:
    with engine.connect() as c:
        return c.execute(select(audit_log.c.user_id, audit_log.c.detail)
                         .where(audit_log.c.action == SEARCH_CHILD)).all()


def test_a_search_is_audited_and_refused_to_roles_without_children(settings, con, model):
    engine = connect(settings)
    agencies = load_agencies(con)
    c = _children(con)[3]
    query = Query(f"{c['surname']} {c['given']}", f"{c['surname_kana']} {c['given_kana']}", c["birth_date"])
    before = len(_searches(engine))
    worker = Account("w-search", "検索 太郎", c["agency_id"], CASEWORKER)
    results = search(con, engine, model, worker, query, agencies)
    assert results[0].person_key == c["person_key"]
    [(user, detail)] = _searches(engine)[before:]
    assert user == "w-search" and detail.startswith("fields=name,kana,birth_date; results=" + c["person_key"])
    with pytest.raises(AccessDenied):
        search(con, engine, model, Account("m", "管理 者", c["agency_id"], MANAGER), query, agencies)
    assert len(_searches(engine)) == before + 1


def test_search_lines_answer_each_line_or_name_its_error(settings, con, model):
    engine = connect(settings)
    c = _children(con)[5]
    good = json.dumps({"name": f"{c['surname']}{c['given']}", "kana": f"{c['surname_kana']}{c['given_kana']}",
                       "birth_date": c["birth_date"].isoformat()}, ensure_ascii=False)
    out = [json.loads(line) for line in search_lines(con, engine, model, "op", [good, "", "{", '{"sex": "1"}'])]
    assert [o["line"] for o in out] == [1, 3, 4]
    assert out[0]["results"][0]["person_key"] == c["person_key"]
    assert set(out[0]["results"][0]) == {"person_key", "score", "reason", "agencies", "undecided_pair"}
    assert set(out[0]["results"][0]["agencies"][0]) == {"agency_id", "first_known", "last_known"}
    assert "not JSON" in out[1]["error"] and "a name or a kana" in out[2]["error"]


def test_kodomo_search_prints_json_lines_and_audits_as_the_operator(settings, con, tmp_path, capsys):
    c = _children(con)[9]
    batch = tmp_path / "queries.jsonl"
    batch.write_text(json.dumps({"name": c["surname"] + c["given"], "kana": to_hiragana(c["surname_kana"]),
                                 "birth_date": c["birth_date"].isoformat()}, ensure_ascii=False) + "\n",
                     encoding="utf-8")
    con.close()  # the command opens the warehouse itself
    assert main(["search", "--batch", str(batch), "--user", "operator-q", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    answer = json.loads(line)
    assert answer["line"] == 1 and answer["results"][0]["person_key"] == c["person_key"]
    user, detail = _searches(connect(settings))[-1]
    assert user == "operator-q" and detail.startswith(f"fields=name,kana,birth_date; results={c['person_key']}")


def test_a_child_with_an_undecided_pair_is_flagged_until_a_supervisor_decides(settings, con, model):
    engine = connect(settings)
    pairs = undecided_pairs(con, engine)
    assert pairs, "the small world leaves pairs for review"
    pair = pairs[0]
    record = con.execute("""select child_name, child_kana, birth_date::date from linkage.person_records
                            where agency_id = ? and local_child_id = ? limit 1""",
                         [pair.left.agency_id, pair.left.local_child_id]).fetchall()[0]
    query = Query(record[0], record[1], record[2])
    agencies = load_agencies(con)
    worker = Account("w-flag", "確認 花子", pair.left.agency_id, CASEWORKER)

    def flagged() -> bool:
        return next(r for r in search(con, engine, model, worker, query, agencies)
                    if r.person_key == pair.person_key_l).undecided_pair

    assert flagged()
    decide_pair(engine, Account("s-flag", "監督 一郎", pair.left.agency_id, SUPERVISOR), pair, SAME, agencies)
    still = any(pair.person_key_l in (p.person_key_l, p.person_key_r) for p in undecided_pairs(con, engine))
    assert flagged() == still and pair not in undecided_pairs(con, engine)
