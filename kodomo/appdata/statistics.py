"""The managers' statistics for the app: only published cells (small cells withheld) ever leave this module.

Statistics are for the roles that oversee the work (managers, and supervisors for their teams); they hold
counts and rates, never a name or a child-level row. Each read is audited (``view_statistics``) before the
table is returned.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
import pandas as pd
from sqlalchemy import Engine

from kodomo.appdata.access import require_role
from kodomo.operational import MANAGER, SUPERVISOR, AccessEntry, log_access
from kodomo.statistics.publish import published_statistics

if TYPE_CHECKING:
    from kodomo.appdata.accounts import Account

VIEW_STATISTICS = "view_statistics"
STATISTICS_ROLES = (MANAGER, SUPERVISOR)


def statistics(con: duckdb.DuckDBPyConnection, engine: Engine, user: Account) -> pd.DataFrame:
    """The published long table (``kodomo.statistics.publish.COLUMNS``), as ``kodomo export-stats`` writes it.

    Refused (``AccessDenied``) for any role but ``STATISTICS_ROLES``; the audit row is written first."""
    require_role(user, *STATISTICS_ROLES)
    log_access(engine, AccessEntry(user.user_id, user.role, VIEW_STATISTICS, user.agency_id))
    return published_statistics(con)
