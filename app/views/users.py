"""Admin: the accounts (create, reset a password, deactivate). Every change is an audit row, made by
``kodomo.appdata.accounts``, which refuses anyone but an admin."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import select

from app import session
from app.i18n import t
from app.services import agencies, operational_store
from kodomo.appdata.access import AccessDenied
from kodomo.appdata.accounts import Account, AccountError, create_account, deactivate_account, set_password
from kodomo.appdata.warehouse import WarehouseUnavailable
from kodomo.operational import ROLES, accounts
from kodomo.settings import get_settings


def _listing(store) -> pd.DataFrame:
    with store.connect() as con:
        rows = con.execute(select(accounts.c.user_id, accounts.c.display_name, accounts.c.agency_id,
                                  accounts.c.role, accounts.c.active).order_by(accounts.c.user_id)).all()
    return pd.DataFrame(rows, columns=["user_id", "display_name", "agency_id", "role", "active"])


def render() -> None:
    lang = session.language()
    admin = session.user()
    st.title(t("nav.users", lang))
    current = get_settings()
    store = operational_store(current)
    try:
        known = agencies(current)
    except (WarehouseUnavailable, FileNotFoundError):
        st.info(t("no_warehouse", lang))
        return
    listing = _listing(store)
    st.dataframe(listing.rename(columns={c: t(f"col_account.{c}", lang) for c in listing.columns}),
                 hide_index=True, key="users.list")

    st.subheader(t("create_account", lang))
    with st.form("users.create", clear_on_submit=False):
        user_id = st.text_input(t("user_id", lang), key="users.new_id")
        name = st.text_input(t("display_name", lang), key="users.new_name")
        agency = st.selectbox(t("col_agency", lang), sorted(known), index=None, key="users.new_agency",
                              format_func=lambda a: f"{known[a].name}（{a}）")
        role = st.selectbox(t("role", lang), ROLES, index=None, key="users.new_role",
                            format_func=lambda r: t(f"role.{r}", lang))
        password = st.text_input(t("initial_password", lang), type="password", key="users.new_password")
        if st.form_submit_button(t("create", lang)):
            try:
                create_account(store, current, admin, Account(user_id, name, agency or "", role or ""), password,
                               known)
                st.success(t("account_created", lang, user=user_id.strip().lower()))
            except (AccountError, AccessDenied) as refused:
                st.error(t("refused", lang, reason=str(refused)))

    st.subheader(t("reset_password", lang))
    with st.form("users.reset"):
        target = st.selectbox(t("user_id", lang), list(listing["user_id"]), index=None, key="users.reset_id")
        password = st.text_input(t("new_password", lang), type="password", key="users.reset_password")
        if st.form_submit_button(t("reset", lang)) and target:
            try:
                set_password(store, current, admin, target, password)
                st.success(t("password_reset", lang, user=target))
            except (AccountError, AccessDenied) as refused:
                st.error(t("refused", lang, reason=str(refused)))

    st.subheader(t("deactivate_account", lang))
    with st.form("users.deactivate"):
        active = listing[listing["active"].astype(bool)]["user_id"]
        target = st.selectbox(t("user_id", lang), [u for u in active if u != admin.user_id], index=None,
                              key="users.deactivate_id")
        if st.form_submit_button(t("deactivate", lang)) and target:
            try:
                deactivate_account(store, admin, target)
                st.success(t("account_deactivated", lang, user=target))
            except (AccountError, AccessDenied) as refused:
                st.error(t("refused", lang, reason=str(refused)))
