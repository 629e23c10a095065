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
STATISTICS = PageSpec("statistics", "routes/statistics.py")
SEARCH = PageSpec("search", "routes/search.py")
LINKAGE_REVIEW = PageSpec("linkage_review", "routes/linkage_review.py")
ONESTOP_INBOX = PageSpec("onestop_inbox", "routes/onestop_inbox.py")
# Parents' pages (保護者の方へ): no sign-in; offered only while nobody is signed in (app/main.py).
ONESTOP_NAVIGATOR = PageSpec("onestop_navigator", "routes/onestop_navigator.py")
ONESTOP_CHAT = PageSpec("onestop_chat", "routes/onestop_chat.py")
ONESTOP_CODE = PageSpec("onestop_code", "routes/onestop_code.py")
HEALTH_PARENT = PageSpec("health_parent", "routes/health_parent.py")
PARENT_PAGES = (ONESTOP_NAVIGATOR, ONESTOP_CHAT, ONESTOP_CODE, HEALTH_PARENT)
HEALTH_HANDOVERS = PageSpec("health_handovers", "routes/health_handovers.py")
CHILD_RECORD = PageSpec("child_record", "routes/child_record.py")
NOTICES = PageSpec("notices", "routes/notices.py")
ALL_PAGES = (QUEUE, ENTRY, INTAKE, SEARCH, CHILD_RECORD, NOTICES, REVIEW, FLAGS, LINKAGE_REVIEW, STATISTICS, MODEL,
             USERS, AUDIT, ONESTOP_INBOX, HEALTH_HANDOVERS, *PARENT_PAGES)

_CASEWORK = {"section.intakes": (QUEUE, ENTRY, INTAKE), "section.children": (SEARCH, CHILD_RECORD, NOTICES)}
_MENUS: dict[str, dict[str, tuple[PageSpec, ...]]] = {
    CASEWORKER: _CASEWORK,
    SUPERVISOR: {**_CASEWORK, "section.supervision": (REVIEW, FLAGS, LINKAGE_REVIEW, STATISTICS)},
    DATA_SCIENTIST: {"section.analysis": (MODEL,)},
    ADMIN: {"section.administration": (USERS, AUDIT)},
    MANAGER: {"section.statistics": (STATISTICS,)},
    HEALTH_STAFF: {"section.health": (HEALTH_HANDOVERS,), "section.children": (SEARCH, CHILD_RECORD)},
    FAMILY_SUPPORT: {"section.onestop": (ONESTOP_INBOX,)},
}


def has_page(role: str, page: PageSpec) -> bool:
    """Whether the role's menu offers the page (e.g. the notices page, whose unread count the sidebar shows)."""
    return any(page in pages for pages in pages_for(role).values())


def pages_for(role: str) -> dict[str, tuple[PageSpec, ...]]:
    """The role's menu: section text key -> its pages, the first page of the first section being the default."""
    if role not in _MENUS:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    return _MENUS[role]
