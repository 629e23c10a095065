"""Which pages each role gets, in which sections: a pure function, so the menu is tested without Streamlit.

The menu only arranges pages; what a page may show is decided below it (``kodomo.appdata.access``), which refuses.
"""
from __future__ import annotations

from dataclasses import dataclass

from kodomo.operational import (ADMIN, CASEWORKER, DATA_SCIENTIST, FAMILY_SUPPORT, HEALTH_STAFF, MANAGER, ROLES,
                                SUPERVISOR)


@dataclass(frozen=True)
class PageSpec:
    key: str  # the page's URL path and its text key (``nav.<key>``)
    file: str  # relative to app/main.py

    @property
    def title_key(self) -> str:
        return f"nav.{self.key}"


QUEUE = PageSpec("queue", "routes/queue.py")
ENTRY = PageSpec("entry", "routes/entry.py")
INTAKE = PageSpec("intake", "routes/intake.py")
REVIEW = PageSpec("review", "routes/review.py")
FLAGS = PageSpec("flags", "routes/flags.py")
MODEL = PageSpec("model", "routes/model.py")
USERS = PageSpec("users", "routes/users.py")
AUDIT = PageSpec("audit", "routes/audit.py")
HOME = PageSpec("home", "routes/home.py")
STATISTICS = PageSpec("statistics", "routes/statistics.py")
ALL_PAGES = (QUEUE, ENTRY, INTAKE, REVIEW, FLAGS, STATISTICS, MODEL, USERS, AUDIT, HOME)

_CASEWORK = {"section.intakes": (QUEUE, ENTRY, INTAKE)}
_MENUS: dict[str, dict[str, tuple[PageSpec, ...]]] = {
    CASEWORKER: _CASEWORK,
    SUPERVISOR: {**_CASEWORK, "section.supervision": (REVIEW, FLAGS, STATISTICS)},
    DATA_SCIENTIST: {"section.analysis": (MODEL,)},
    ADMIN: {"section.administration": (USERS, AUDIT)},
    MANAGER: {"section.statistics": (STATISTICS,)},
    # Their own pages come with later issues; until then a home page says what is (not yet) available.
    HEALTH_STAFF: {"section.home": (HOME,)},
    FAMILY_SUPPORT: {"section.home": (HOME,)},
}


def pages_for(role: str) -> dict[str, tuple[PageSpec, ...]]:
    """The role's menu: section text key -> its pages, the first page of the first section being the default."""
    if role not in _MENUS:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    return _MENUS[role]
