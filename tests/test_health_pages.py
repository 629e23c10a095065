"""The health staff's handover page and the parents' health-record page, headless (AppTest) on the scored world:
the worklist, one child's record opened (and audited) once, the acknowledgement, a parent code that opens that
child's record and nothing else."""
from __future__ import annotations

import duckdb
import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from app.i18n import t
from kodomo import operational
from kodomo.appdata.access import load_agencies
from kodomo.appdata.accounts import Account
from kodomo.health.access import VIEW_HEALTH_RECORD
from kodomo.operational import HEALTH_STAFF, audit_log
from kodomo.settings import get_settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(scored_world):
    """The municipality with the most children moved in, and a health nurse there."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KODOMO_HOME", str(scored_world["home"]))
        mp.setenv("KODOMO_ENV", "local")
        settings = get_settings()
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            agencies = load_agencies(con)
            [(municipality,)] = con.execute("""
                select to_municipality_code from marts.child_timeline
                where event_type = 'move_in' and to_municipality_code in (
                    select agency_id from marts.agencies where agency_type = 'municipality')
                group by all order by count(*) desc, 1 limit 1""").fetchall()
    nurse = Account("nurse.pages", "保健 花子", municipality, HEALTH_STAFF)
    return {"home": scored_world["home"], "engine": operational.connect(settings), "nurse": nurse,
            "agencies": agencies}


@pytest.fixture(autouse=True)
def environment(world, monkeypatch):
    monkeypatch.setenv("KODOMO_HOME", str(world["home"]))
    monkeypatch.setenv("KODOMO_ENV", "local")


def _handovers_page(user) -> None:  # AppTest runs the source alone: no annotation to resolve
    from app.views.health import render_handovers

    render_handovers("ja", user)


def _parent_page() -> None:
    from app.views.health import render_parent

    render_parent("ja")


def _views(world) -> list[str]:
    with world["engine"].connect() as con:
        return list(con.execute(select(audit_log.c.person_key).where(audit_log.c.action == VIEW_HEALTH_RECORD)
                                .where(audit_log.c.user_id == world["nurse"].user_id)).scalars())


def test_a_nurse_opens_a_handover_once_acknowledges_it_and_a_parent_code_opens_only_that_child(world):
    page = AppTest.from_function(_handovers_page, args=(world["nurse"],), default_timeout=120).run()
    assert not page.exception, page.exception
    assert page.title[0].value == t("health.title") and page.dataframe
    page.selectbox(key="health.chosen").set_value(0).run()
    assert not page.exception, page.exception
    assert t("health.due_next") in [s.value for s in page.subheader]
    assert len(_views(world)) == 1
    page.run()  # a rerun shows the same record without another audit row
    assert len(_views(world)) == 1
    [child] = _views(world)

    acknowledge = [b for b in page.button if b.label == t("health.acknowledge")]
    if acknowledge:
        acknowledge[0].click().run()
        assert not page.exception and not [b for b in page.button if b.label == t("health.acknowledge")]

    next(b for b in page.button if b.label == t("health.issue_code")).click().run()
    shown = next(i.value for i in page.info if "**" in i.value)
    code = shown.split("**")[1]

    parent = AppTest.from_function(_parent_page, default_timeout=120).run()
    parent.text_input(key="health.parent_code").input(code)
    parent.button[0].click().run()
    assert not parent.exception and not parent.error
    assert t("health.immunizations") in [s.value for s in parent.subheader]
    assert parent.get("download_button")

    wrong = AppTest.from_function(_parent_page, default_timeout=120).run()
    wrong.text_input(key="health.parent_code").input("WRONGCODE1")
    wrong.button[0].click().run()
    assert [e.value for e in wrong.error] == [t("health.code_refused")]
    assert not wrong.subheader
    assert child  # the code was issued for the child the nurse opened


def test_other_roles_are_refused_the_handover_page(world):
    caseworker = Account("cw.health", "児童 太郎", world["nurse"].agency_id, "caseworker")
    page = AppTest.from_function(_handovers_page, args=(caseworker,), default_timeout=120).run()
    assert not page.exception and page.error and not page.dataframe
