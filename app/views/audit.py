"""Admin: the audit log, newest first, and the verification of its hash chain."""
from __future__ import annotations

import pandas as pd
import streamlit as st
from sqlalchemy import select

from app import session
from app.i18n import t
from app.services import operational_store
from kodomo.appdata.access import require_role
from kodomo.operational import ADMIN, AccessEntry, audit_log, log_access, verify
from kodomo.settings import get_settings

SHOWN_ROWS = 500
VIEW_AUDIT = "view_audit"


def render() -> None:
    lang = session.language()
    admin = session.user()
    require_role(admin, ADMIN)
    st.title(t("nav.audit", lang))
    store = operational_store(get_settings())
    if st.button(t("verify_chain", lang), key="audit.verify"):
        result = verify(store)
        (st.success if result.ok else st.error)(
            t("chain_ok" if result.ok else "chain_broken", lang, rows=result.rows_checked,
              first=result.first_broken_id, message=result.message))
    if not session.value(VIEW_AUDIT):  # once per session, not once per rerun
        log_access(store, AccessEntry(admin.user_id, admin.role, VIEW_AUDIT, admin.agency_id))
        session.put(VIEW_AUDIT, True)
    columns = ["id", "at", "user_id", "role", "action", "agency_id", "report_id", "detail"]
    with store.connect() as con:
        rows = con.execute(select(*(audit_log.c[c] for c in columns)).order_by(audit_log.c.id.desc())
                           .limit(SHOWN_ROWS)).all()
    st.caption(t("audit_shown", lang, n=len(rows)))
    st.dataframe(pd.DataFrame(rows, columns=columns), hide_index=True, key="audit.rows")
