"""Local accounts: argon2id hashes peppered with the secret, sign-in audited and slowed down, sessions that expire."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import replace

import psycopg
import pytest
from sqlalchemy import select

from kodomo.appdata.access import AccessDenied, agencies_from
from kodomo.appdata.accounts import (CREATE_ACCOUNT, DEACTIVATE_ACCOUNT, NO_ACCOUNT, SET_PASSWORD, SIGN_IN,
                                     SIGN_IN_FAILED, SIGN_IN_LOCKED, Account, AccountError, LockoutPolicy, Session,
                                     SessionExpired, SignInFailed, account, authenticate, create_account,
                                     create_demo_accounts, deactivate_account, set_password)
from kodomo.operational import ADMIN, CASEWORKER, ROLES, accounts, audit_log, connect, verify
from kodomo.settings import Settings, get_settings
from tests.conftest import AGENCIES

PASSWORD = "correct horse battery"
ADMIN_USER = Account("root", "管理者", "C1101", ADMIN)
AGENCY_MAP = agencies_from(AGENCIES)


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "local")
    monkeypatch.delenv("KODOMO_SECRET", raising=False)
    return get_settings()


@pytest.fixture
def engine(settings):
    engine = connect(settings)
    yield engine
    engine.dispose()


def _worker(engine, settings, user_id="w001", password=PASSWORD) -> Account:
    return create_account(engine, settings, ADMIN_USER, Account(user_id, "山田 花子", "111007", CASEWORKER), password,
                          AGENCY_MAP)


def _audit(engine) -> list[dict]:
    with engine.connect() as con:
        return [dict(r._mapping) for r in con.execute(select(audit_log).order_by(audit_log.c.id))]


def test_demo_accounts_one_per_role_sign_in_with_the_passwords_printed_once(engine, settings):
    made = create_demo_accounts(engine, settings, AGENCY_MAP)
    assert [demo.account.role for demo in made] == list(ROLES)
    assert len({demo.password for demo in made}) == len(ROLES)
    by_role = {demo.account.role: demo.account.agency_id for demo in made}
    assert by_role["caseworker"] == by_role["admin"] == "C1101" and by_role["health_staff"] == "111007"
    for demo in made:
        assert authenticate(engine, settings, demo.account.user_id, demo.password) == demo.account
        assert demo.password not in repr(demo)
    again = create_demo_accounts(engine, settings, AGENCY_MAP)  # `make demo` run again: fresh passwords
    with pytest.raises(SignInFailed):
        authenticate(engine, settings, made[0].account.user_id, made[0].password)
    assert authenticate(engine, settings, again[0].account.user_id, again[0].password) == again[0].account
    actions = [row["action"] for row in _audit(engine)]
    assert actions.count(CREATE_ACCOUNT) == len(ROLES) and actions.count(SET_PASSWORD) == len(ROLES)
    assert verify(engine).ok


def test_production_has_no_demo_accounts_and_needs_a_secret(tmp_path, monkeypatch, scratch_postgres_url):
    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_ENV", "production")
    monkeypatch.setenv("KODOMO_POSTGRES_URL", scratch_postgres_url)
    monkeypatch.delenv("KODOMO_SECRET", raising=False)
    with pytest.raises(ValueError, match="KODOMO_SECRET must be set to 32 characters or more in production"):
        get_settings().app_secret  # noqa: B018  (the app reads it at start)
    monkeypatch.setenv("KODOMO_SECRET", "short")
    with pytest.raises(ValueError, match="KODOMO_SECRET must be set"):
        get_settings().app_secret  # noqa: B018
    monkeypatch.setenv("KODOMO_SECRET", "s" * 40)
    production = get_settings()
    assert production.app_secret == b"s" * 40 and "s" * 40 not in repr(production)
    engine = connect(production)
    with pytest.raises(AccountError, match="not in production"):
        create_demo_accounts(engine, production, AGENCY_MAP)
    created = _worker(engine, production)
    assert authenticate(engine, production, "w001", PASSWORD) == created
    # The app role may change an account but never delete one.
    url = production.operational_app_url.replace("postgresql+psycopg://", "postgresql://")
    with pytest.raises(psycopg.Error, match="permission denied"), psycopg.connect(url) as con:
        con.execute("DELETE FROM accounts")
    engine.dispose()


def test_the_password_is_stored_as_an_argon2id_hash_peppered_with_the_secret(engine, settings):
    _worker(engine, settings)
    with engine.connect() as con:
        stored = con.scalar(select(accounts.c.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    other_secret = replace(settings, secret="x" * 32)
    with pytest.raises(SignInFailed):  # a copy of the store without the secret does not check passwords
        authenticate(engine, other_secret, "w001", PASSWORD)


def test_wrong_unknown_and_inactive_get_one_answer_and_an_audit_row_without_the_password(engine, settings, caplog):
    _worker(engine, settings)
    _worker(engine, settings, "w002")
    deactivate_account(engine, ADMIN_USER, "w002")
    with caplog.at_level(logging.DEBUG):
        answers = []
        for user_id, password in [("w001", "wrong password!"), ("nobody", PASSWORD), ("w002", PASSWORD)]:
            with pytest.raises(SignInFailed) as refused:
                authenticate(engine, settings, user_id, password)
            answers.append(str(refused.value))
        assert authenticate(engine, settings, " W001 ", PASSWORD).user_id == "w001"
    assert set(answers) == {"the user ID or password is wrong"}
    rows = _audit(engine)[-4:]
    assert [(r["user_id"], r["role"], r["action"], r["detail"]) for r in rows] == [
        ("w001", CASEWORKER, SIGN_IN_FAILED, "wrong password"),
        ("nobody", NO_ACCOUNT, SIGN_IN_FAILED, "unknown user ID"),
        ("w002", CASEWORKER, SIGN_IN_FAILED, "inactive account"),
        ("w001", CASEWORKER, SIGN_IN, None)]
    assert not any(PASSWORD in str(value) or "wrong password!" in str(value) for row in _audit(engine)
                   for value in row.values())
    assert PASSWORD not in caplog.text and "wrong password!" not in caplog.text


def test_repeated_failures_lock_the_id_even_for_the_right_password_then_the_lock_ends(engine, settings):
    _worker(engine, settings)
    policy = LockoutPolicy(free_attempts=2, first_lock=dt.timedelta(seconds=1.5))
    with pytest.raises(SignInFailed) as first:
        authenticate(engine, settings, "w001", "guess number one", policy)
    assert first.value.retry_after is None
    with pytest.raises(SignInFailed, match=r"too many failed sign-ins: try again in 2 s") as second:
        authenticate(engine, settings, "w001", "guess number two", policy)
    assert second.value.retry_after == dt.timedelta(seconds=1.5)
    with pytest.raises(SignInFailed, match="too many failed sign-ins"):
        authenticate(engine, settings, "w001", PASSWORD, policy)
    time.sleep(1.6)
    assert authenticate(engine, settings, "w001", PASSWORD, policy).user_id == "w001"
    assert [r["action"] for r in _audit(engine)[-4:]] == [SIGN_IN_FAILED, SIGN_IN_FAILED, SIGN_IN_LOCKED, SIGN_IN]


def test_the_lock_doubles_up_to_the_longest():
    policy = LockoutPolicy(free_attempts=3, first_lock=dt.timedelta(seconds=30), longest_lock=dt.timedelta(hours=1))
    assert [policy.lock_after(n).total_seconds() for n in range(1, 11)] == [0, 0, 30, 60, 120, 240, 480, 960, 1920,
                                                                           3600]
    assert policy.lock_after(10_000) == dt.timedelta(hours=1)


def test_parallel_guesses_cannot_slip_past_the_lock(engine, settings):
    _worker(engine, settings)
    answers = []

    def guess(n: int) -> None:
        try:
            authenticate(engine, settings, "w001", f"parallel guess {n}")
        except SignInFailed as failed:
            answers.append(failed)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    actions = [r["action"] for r in _audit(engine) if r["user_id"] == "w001"]
    assert len(answers) == 8 and actions.count(SIGN_IN_FAILED) == 3 and actions.count(SIGN_IN_LOCKED) == 5
    assert verify(engine).ok


def test_only_an_admin_makes_accounts_and_bad_ones_are_refused_at_their_field(engine, settings):
    caseworker = _worker(engine, settings)
    with pytest.raises(AccessDenied):
        create_account(engine, settings, caseworker, Account("w009", "x", "111007", CASEWORKER), PASSWORD, AGENCY_MAP)
    for new, password, message in [
        (Account("w001", "重複", "111007", CASEWORKER), PASSWORD, "user ID 'w001': already taken"),
        (Account("a b", "空白", "111007", CASEWORKER), PASSWORD, "user ID 'a b': 3-64"),
        (Account("w003", "  ", "111007", CASEWORKER), PASSWORD, "display name: required"),
        (Account("w003", "役割", "111007", "director"), PASSWORD, "role 'director'"),
        (Account("w003", "機関", "999999", CASEWORKER), PASSWORD, "agency '999999': not in agencies.csv"),
        (Account("w003", "短い", "111007", CASEWORKER), "short", "password: at least 12"),
        (Account("w003", "ID入り", "111007", CASEWORKER), "my id is W003 ok", "password: must not contain the user ID"),
    ]:
        with pytest.raises(AccountError, match=message):
            create_account(engine, settings, ADMIN_USER, new, password, AGENCY_MAP)
    assert account(engine, "w003") is None
    assert [r["action"] for r in _audit(engine)] == [CREATE_ACCOUNT]


def test_users_change_their_own_password_and_admins_anyones(engine, settings):
    caseworker = _worker(engine, settings)
    _worker(engine, settings, "w002")
    with pytest.raises(AccessDenied):
        set_password(engine, settings, caseworker, "w002", "another long password")
    set_password(engine, settings, caseworker, "w001", "another long password")
    assert authenticate(engine, settings, "w001", "another long password") == caseworker
    set_password(engine, settings, ADMIN_USER, "w001", "a third long password")
    with pytest.raises(AccountError, match="no such account"):
        set_password(engine, settings, ADMIN_USER, "w404", "a third long password")
    assert [(r["user_id"], r["action"], r["detail"]) for r in _audit(engine) if r["action"] == SET_PASSWORD] == [
        ("w001", SET_PASSWORD, "w001"), ("root", SET_PASSWORD, "w001")]
    with pytest.raises(AccessDenied):
        deactivate_account(engine, caseworker, "w002")
    deactivate_account(engine, ADMIN_USER, "w002")
    assert account(engine, "w002").active is False
    assert [r["detail"] for r in _audit(engine) if r["action"] == DEACTIVATE_ACCOUNT] == ["w002"]


def test_a_session_expires_after_inactivity():
    start = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.UTC)
    session = Session.start(ADMIN_USER, start)
    later = session.touched(start + dt.timedelta(minutes=14))
    assert later.last_active_at == start + dt.timedelta(minutes=14) and later.signed_in_at == start
    assert not later.expired(start + dt.timedelta(minutes=29)) and later.expired(start + dt.timedelta(minutes=30))
    with pytest.raises(SessionExpired, match="signed out after 15 minutes without activity"):
        later.touched(start + dt.timedelta(minutes=30))
