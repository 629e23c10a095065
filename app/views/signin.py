"""Signing in: a local account (user ID and password) or, when configured, the organisation's OpenID Connect
provider through ``st.login``. Failed attempts are slowed down by the account store, which says how long to wait."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import t
from app.services import operational_store
from kodomo.appdata.accounts import SIGN_IN, SignInFailed, account, authenticate
from kodomo.operational import AccessEntry, log_access
from kodomo.settings import Settings, get_settings

OIDC_USER_CLAIMS = ("preferred_username", "email")


def _local(current: Settings, lang: str) -> None:
    with st.form("signin.form"):
        user_id = st.text_input(t("user_id", lang), key="signin.user")
        password = st.text_input(t("password", lang), type="password", key="signin.password")
        submitted = st.form_submit_button(t("sign_in", lang))
    if not submitted:
        return
    try:
        signed_in = authenticate(operational_store(current), current, user_id, password)
    except SignInFailed as failed:
        st.error(t("sign_in_failed", lang))
        if failed.retry_after is not None:
            st.warning(t("sign_in_locked", lang, seconds=-int(-failed.retry_after.total_seconds() // 1)))
        return
    session.start(signed_in)
    st.rerun()


def _oidc_user_id() -> str:
    """The account an OIDC identity signs in as: its preferred user name, else the local part of its e-mail."""
    for claim in OIDC_USER_CLAIMS:
        found = st.user.get(claim)
        if found:
            return str(found).split("@")[0].lower()
    return ""


def _oidc(current: Settings, lang: str) -> None:
    if not st.user.is_logged_in:
        st.button(t("sign_in_oidc", lang), on_click=st.login)
        return
    store = operational_store(current)
    user_id = _oidc_user_id()
    found = account(store, user_id) if user_id else None
    if found is None or not found.active:
        st.error(t("oidc_no_account", lang, user=user_id or "?"))
        st.button(t("sign_out", lang), on_click=st.logout)
        return
    log_access(store, AccessEntry(found.user_id, found.role, SIGN_IN, found.agency_id, detail="oidc"))
    session.start(found)
    st.rerun()


def render() -> None:
    lang = session.language()
    st.title(t("sign_in_title", lang))
    if session.expired_notice():
        st.info(t("session_expired", lang))
    current = get_settings()
    (_oidc if current.auth_mode == "oidc" else _local)(current, lang)
