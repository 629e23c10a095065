"""The caseworkers' search page and the supervisors' linkage review page, headless (AppTest) on the scored world."""
from __future__ import annotations

import json

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from app.i18n import t
from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account
from kodomo.operational import CASEWORKER, MANAGER, SUPERVISOR
from kodomo.settings import get_settings
from ml.live_scoring import intake_lines

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(scored_world):
    """A CGC of the world and the child of one of its intakes, as the report typed it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        settings = get_settings()
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            agencies = load_agencies(con)
            cgc = sorted(a.agency_id for a in agencies.values() if a.agency_type == "cgc")[0]
            child = next(json.loads(line)["child"] for agency, _, line in intake_lines(con) if agency == cgc)
    return {"home": scored_world["home"], "cgc": cgc, "child": child}


@pytest.fixture(autouse=True)
def environment(world, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(world["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")


def _search_page(user) -> None:  # AppTest runs the source alone: no annotation to resolve
    from app.views.search import render

    render("ja", user)


def _review_page(user) -> None:
    from app.views.linkage_review import render

    render("ja", user)


def test_a_caseworker_finds_a_child_typed_in_hiragana_without_the_space(world):
    from kodomo.parsing.text import fold_kana

    child = world["child"]
    hiragana = "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in fold_kana(child["kana"]))
    page = AppTest.from_function(_search_page, args=(Account("cw.search", "検索 太郎", world["cgc"], CASEWORKER),),
                                 default_timeout=120).run()
    page.text_input(key="search.kana").input(hiragana.replace(" ", ""))
    page.text_input(key="search.birth_date").input(child["birth_date"])
    page.button[0].click().run()
    assert not page.exception and not page.error
    shown = [m.value for m in page.markdown]
    assert shown[0].startswith("**1.**")  # ranked, with the score and the reason in words
    assert any(child["name"].replace(" ", "") in m.replace(" ", "").replace("\u3000", "") for m in shown)


def test_a_manager_is_refused_the_search(world):
    page = AppTest.from_function(_search_page, args=(Account("m.search", "管理 花子", world["cgc"], MANAGER),),
                                 default_timeout=120).run()
    page.text_input(key="search.kana").input("やまだたろう")
    page.button[0].click().run()
    assert not page.exception and page.error and not page.markdown


def test_the_linkage_review_page_is_for_supervisors(world):
    supervisor = AppTest.from_function(_review_page, args=(Account("s.review", "確認 次郎", world["cgc"], SUPERVISOR),),
                                       default_timeout=120).run()
    assert not supervisor.exception and not supervisor.error
    assert supervisor.title[0].value == t("linkage_review.title")
    caseworker = AppTest.from_function(_review_page, args=(Account("c.review", "受付 三郎", world["cgc"], CASEWORKER),),
                                       default_timeout=120).run()
    assert not caseworker.exception and caseworker.error
