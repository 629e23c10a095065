"""The one-stop desk's shared consultation at the data layer: consent first, a code opens exactly its own thread,
staff of the municipality only, every staff read and write audited; on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from sqlalchemy import Engine, select

from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account
from kodomo.onestop.consultations import (ACTION, CODE_ALPHABET, CODE_LENGTH, MESSAGE, CodeAttempts, CodeNotValid,
                                          ConsentRequired, ConsultationError, InAppChannel, consultation_departments,
                                          consultation_for_staff, consultation_messages, consultations, inbox,
                                          open_consultation, parent_reply, record_action, staff_reply,
                                          thread_for_code, try_code)
from kodomo.operational import CASEWORKER, FAMILY_SUPPORT, audit_log, connect, verify
from kodomo.settings import Settings
from tests.test_audit_tamper import local, production  # noqa: F401  (SQLite and PostgreSQL)

SAITAMA, CHIYODA = "111007", "131016"
HOUSING_STAFF = Account("fs001", "住宅 担当", SAITAMA, FAMILY_SUPPORT)
WELFARE_STAFF = Account("fs002", "福祉 担当", SAITAMA, FAMILY_SUPPORT)
OTHER_CITY_STAFF = Account("fs101", "千代田 担当", CHIYODA, FAMILY_SUPPORT)
CASEWORKER_HERE = Account("w001", "児相 担当", SAITAMA, CASEWORKER)


@pytest.fixture(params=["local", "production"])
def settings(request) -> Settings:
    """Production refuses to run without a secret; locally a fixed one stands in."""
    chosen = request.getfixturevalue(request.param)
    return replace(chosen, secret="s" * 40) if chosen.is_production else chosen


@pytest.fixture
def engine(settings: Settings) -> Engine:
    store = connect(settings)  # in production, as the app role: SELECT and INSERT, and UPDATE of a status only
    yield store
    store.dispose()


def _open(engine: Engine, settings: Settings, needs: str = "家賃が払えない", departments=("housing", "welfare"),
          **options) -> tuple[int, str]:
    return open_consultation(engine, settings, True, SAITAMA, needs, ["jutaku_shien_kashitsuke", "jido_fuyo_teate"],
                             "in_app", departments, **options)


def _rows(engine: Engine, table) -> list[dict]:
    with engine.connect() as con:
        return [dict(row._mapping) for row in con.execute(select(table))]


def _actions(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as con:
        return [tuple(row) for row in con.execute(select(audit_log.c.user_id, audit_log.c.action, audit_log.c.detail)
                                                  .order_by(audit_log.c.id))]


def test_nothing_is_stored_without_the_parents_consent(engine, settings):
    for consent in (False, None, "yes"):
        with pytest.raises(ConsentRequired, match="consent: the parent must agree"):
            open_consultation(engine, settings, consent, SAITAMA, "家賃が払えない", ["jido_fuyo_teate"], "in_app",
                              ["housing"])
    for table in (consultations, consultation_departments, consultation_messages, audit_log):
        assert _rows(engine, table) == []


def test_a_consultation_is_stored_with_its_routing_the_consent_and_only_the_codes_hash(engine, settings):
    consultation_id, code = _open(engine, settings)
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    [row] = _rows(engine, consultations)
    assert row["id"] == consultation_id and row["status"] == "open" and row["agency_id"] == SAITAMA
    assert row["programmes"] == "jido_fuyo_teate;jutaku_shien_kashitsuke"  # catalogue order
    assert row["consent_given_at"] == row["created_at"] and row["code_expires_at"] - row["created_at"] == \
        dt.timedelta(days=30)
    assert code not in {str(value) for value in row.values()} and len(row["code_hash"]) == 64
    assert sorted(r["department"] for r in _rows(engine, consultation_departments)) == ["housing", "welfare"]
    assert _actions(engine) == [("parent", "open_consultation", f"consultation {consultation_id}")]


def test_a_code_opens_exactly_its_own_thread(engine, settings):
    first, first_code = _open(engine, settings, "家賃が払えない")
    second, second_code = _open(engine, settings, "保育園に入りたい", departments=("child_rearing",))
    parent_reply(engine, settings, first_code, "夜なら電話に出られます")
    parent_reply(engine, settings, second_code, "4月からです")
    staff_reply(engine, HOUSING_STAFF, first, "housing", "住宅支援資金貸付のご案内です")
    record_action(engine, HOUSING_STAFF, first, "housing", "申請書を郵送した")

    thread = thread_for_code(engine, settings, first_code)
    assert thread.id == first and thread.needs == "家賃が払えない" and thread.departments == ("welfare", "housing")
    assert [(e.sender, e.department, e.text) for e in thread.thread] == [
        ("parent", None, "夜なら電話に出られます"), ("department", "housing", "住宅支援資金貸付のご案内です")]
    other = thread_for_code(engine, settings, second_code)
    assert other.id == second and [e.text for e in other.thread] == ["4月からです"]
    # As typed on a phone: lower case, grouped with a hyphen and spaces.
    typed = f"{first_code[:5].lower()} - {first_code[5:].lower()}"
    assert thread_for_code(engine, settings, typed).id == first


def test_a_wrong_or_expired_code_opens_nothing(engine, settings):
    _, code = _open(engine, settings)
    _, expired_code = _open(engine, settings, valid_for=dt.timedelta(0))
    wrong = ("A" if code[0] != "A" else "B") + code[1:]
    for bad in (wrong, expired_code, "", code + "2"):
        with pytest.raises(CodeNotValid) as refused:
            thread_for_code(engine, settings, bad)
        assert str(refused.value) == "the consultation code is wrong or has expired"
        with pytest.raises(CodeNotValid):
            parent_reply(engine, settings, bad, "もしもし")
    assert _rows(engine, consultation_messages) == []


def test_the_inbox_shows_the_departments_consultations_of_the_municipality_and_is_audited(engine, settings):
    housing_and_welfare, _ = _open(engine, settings)
    welfare_only, _ = _open(engine, settings, departments=("welfare",))
    open_consultation(engine, settings, True, CHIYODA, "仕事を探したい", [], "phone", ["housing"])
    before = len(_actions(engine))

    assert [item.id for item in inbox(engine, HOUSING_STAFF, "housing")] == [housing_and_welfare]
    assert {item.id for item in inbox(engine, WELFARE_STAFF, "welfare")} == {housing_and_welfare, welfare_only}
    assert {item.id for item in inbox(engine, WELFARE_STAFF)} == {housing_and_welfare, welfare_only}
    staff_reply(engine, WELFARE_STAFF, welfare_only, "welfare", "窓口にお越しください")
    assert [item.id for item in inbox(engine, WELFARE_STAFF, "welfare")] == [welfare_only, housing_and_welfare]
    assert _actions(engine)[before:] == [
        ("fs001", "view_consultation_inbox", "housing"), ("fs002", "view_consultation_inbox", "welfare"),
        ("fs002", "view_consultation_inbox", "all departments"),
        ("fs002", "reply_consultation", f"consultation {welfare_only} welfare"),
        ("fs002", "view_consultation_inbox", "welfare")]
    assert verify(engine).ok


def test_every_department_sees_the_whole_history_and_each_read_and_write_is_audited(engine, settings):
    consultation_id, code = _open(engine, settings)
    record_action(engine, HOUSING_STAFF, consultation_id, "housing", "公営住宅の空きを確認した")
    staff_reply(engine, HOUSING_STAFF, consultation_id, "housing", "空きがあります")
    record = consultation_for_staff(engine, WELFARE_STAFF, consultation_id)
    assert [(e.kind, e.department, e.text) for e in record.thread] == [
        (ACTION, "housing", "公営住宅の空きを確認した"), (MESSAGE, "housing", "空きがあります")]
    assert [e.text for e in thread_for_code(engine, settings, code).thread] == ["空きがあります"]
    record_action(engine, WELFARE_STAFF, consultation_id, "welfare", "児童扶養手当を申請済み", close=True)
    assert consultation_for_staff(engine, HOUSING_STAFF, consultation_id).status == "closed"
    with pytest.raises(ConsultationError, match=f"consultation {consultation_id} is closed"):
        parent_reply(engine, settings, code, "ありがとうございました")
    about = f"consultation {consultation_id}"
    assert _actions(engine)[1:] == [
        ("fs001", "record_consultation_action", f"{about} housing"), ("fs001", "reply_consultation", f"{about} housing"),
        ("fs002", "view_consultation", about), ("parent", "view_consultation_by_code", about),
        ("fs002", "record_consultation_action", f"{about} welfare"),
        ("fs001", "view_consultation", about)]
    assert verify(engine).ok


def test_staff_of_another_municipality_or_another_role_are_refused_and_nothing_is_recorded(engine, settings):
    consultation_id, _ = _open(engine, settings)
    before = _actions(engine)
    for user in (OTHER_CITY_STAFF, CASEWORKER_HERE):
        expected = "is not held by agency 131016" if user is OTHER_CITY_STAFF else "role caseworker may not"
        with pytest.raises(AccessDenied, match=expected):
            consultation_for_staff(engine, user, consultation_id)
        with pytest.raises(AccessDenied, match=expected):
            staff_reply(engine, user, consultation_id, "housing", "ご案内")
        with pytest.raises(AccessDenied, match=expected):
            record_action(engine, user, consultation_id, "housing", "確認した")
    assert inbox(engine, OTHER_CITY_STAFF) == []
    with pytest.raises(AccessDenied, match="role caseworker may not"):
        inbox(engine, CASEWORKER_HERE)
    with pytest.raises(AccessDenied, match="consultation 999 is not held by agency 111007"):
        consultation_for_staff(engine, HOUSING_STAFF, 999)
    assert _rows(engine, consultation_messages) == []
    assert _actions(engine) == before + [("fs101", "view_consultation_inbox", "all departments")]


def test_bad_input_is_refused_naming_the_field(engine, settings):
    cases = [
        ({"programmes": ["jido_fuyo_teate", "nonexistent"]}, "programme: unknown nonexistent"),
        ({"departments": ["police"]}, "department: unknown police"),
        ({"departments": []}, "departments: route the consultation to at least one department"),
        ({"contact": "fax"}, "contact: one of in_app, phone, visit, not 'fax'"),
        ({"needs": "  "}, "needs: say what the family needs"),
        ({"municipality": ""}, "municipality: the desk's agency ID is required"),
    ]
    for override, message in cases:
        arguments = {"consent": True, "municipality": SAITAMA, "needs": "家賃", "programmes": [], "contact": "in_app",
                     "departments": ["housing"]} | override
        with pytest.raises(ConsultationError, match=message):
            open_consultation(engine, settings, **arguments)
    consultation_id, _ = _open(engine, settings)
    with pytest.raises(ConsultationError, match="department: unknown police"):
        staff_reply(engine, HOUSING_STAFF, consultation_id, "police", "ご案内")
    with pytest.raises(ConsultationError, match="text: the message is empty"):
        staff_reply(engine, HOUSING_STAFF, consultation_id, "housing", " ")
    assert len(_rows(engine, consultations)) == 1 and _rows(engine, consultation_messages) == []


def test_the_in_app_channel_carries_both_directions_through_the_thread(engine, settings):
    consultation_id, code = _open(engine, settings)
    channel = InAppChannel(engine, settings)
    channel.receive(code, "相談したいです")
    channel.send_to_parent(HOUSING_STAFF, consultation_id, "housing", "明日お電話します")
    assert [(e.sender, e.text) for e in thread_for_code(engine, settings, code).thread] == [
        ("parent", "相談したいです"), ("department", "明日お電話します")]
    with pytest.raises(CodeNotValid):
        channel.receive("2222222222", "こんにちは")


def test_the_parents_reads_and_writes_by_code_are_audited(engine, settings):
    consultation_id, code = _open(engine, settings)
    thread_for_code(engine, settings, code)
    parent_reply(engine, settings, code, "夜なら電話に出られます")
    about = f"consultation {consultation_id}"
    assert _actions(engine)[1:] == [("parent", "view_consultation_by_code", about),
                                    ("parent", "parent_reply_consultation", about)]
    assert verify(engine).ok


def test_wrong_codes_lock_the_session_for_growing_waits_and_each_is_audited(engine, settings):
    consultation_id, code = _open(engine, settings)
    start = dt.datetime(2026, 11, 29, 20, 0, tzinfo=dt.UTC)
    attempts = CodeAttempts()
    waits = []
    for tries in range(5):  # each wrong code typed once the previous wait is over
        outcome = try_code(engine, settings, "2222233333", attempts, start + dt.timedelta(minutes=10 * tries))
        assert outcome.consultation is None
        attempts = outcome.attempts
        waits.append(outcome.retry_after)
    assert waits == [None, None, dt.timedelta(seconds=30), dt.timedelta(seconds=60), dt.timedelta(seconds=120)]
    locked_at = start + dt.timedelta(minutes=40)
    # While locked, even the right code is not looked up; once the wait is over it opens and clears the count.
    still_locked = try_code(engine, settings, code, attempts, locked_at + dt.timedelta(seconds=119))
    assert still_locked.consultation is None and still_locked.retry_after == dt.timedelta(seconds=1)
    opened = try_code(engine, settings, code, attempts, locked_at + dt.timedelta(seconds=120))
    assert opened.consultation.id == consultation_id and opened.attempts == CodeAttempts()
    assert [(action, detail) for _, action, detail in _actions(engine)[1:]] == [
        ("wrong_consultation_code", "1 in a row in one session"),
        ("wrong_consultation_code", "2 in a row in one session"),
        ("wrong_consultation_code", "3 in a row in one session, locked for 30 s"),
        ("wrong_consultation_code", "4 in a row in one session, locked for 60 s"),
        ("wrong_consultation_code", "5 in a row in one session, locked for 120 s"),
        ("consultation_code_locked", "locked for 1 s"),
        ("view_consultation_by_code", f"consultation {consultation_id}")]
