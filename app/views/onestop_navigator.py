"""Parents: the navigator. A short questionnaire (who cares for the children and why alone, the children, income,
work or study, housing, municipality) and the programmes the family likely qualifies for, each with why, the
estimated amount where the rules give one, what to bring and the window; the rules' version and dates, and
whether their figures are confirmed. Nothing typed here is stored."""
from __future__ import annotations

import datetime as dt

import streamlit as st

from app import session
from app.i18n import t
from app.views import onestop_parents
from kodomo.onestop.catalogue import PROGRAMMES
from kodomo.onestop.navigator import (DISABILITIES, HOUSING, REASONS_ALONE, RELATIONSHIPS, WORK, HouseholdError,
                                      navigate, rule_versions, rules_in_force)
from kodomo.settings import get_settings

PAGE = "onestop_navigator"
_ANSWER = "onestop.nav.answer"
_LIKELY_ORDER = {"yes": 0, "maybe": 1, "no": 2}
MAX_CHILDREN = 10


def _household(values: dict, children: list[tuple[dt.date | None, str]]) -> dict:
    """The navigator's household (one-stop.md §2) from the form's values."""
    if values["income_kind"] == "salary":
        income = {"salary_income_yen": int(values["income"]), "child_support_yen": int(values["child_support"])}
    else:
        income = {"jido_fuyo_shotoku_yen": int(values["income"])}
    return {"as_of": values["as_of"].isoformat(),
            "caregiver": {"relationship": values["relationship"], "reason_alone": values["reason_alone"]},
            "children": [{"birth_date": birth.isoformat(), "disability": disability} for birth, disability in children],
            "dependants": int(values["dependants"]), "income": income, "work": values["work"],
            "studying": values["studying"], "housing": values["housing"],
            "municipality_code": values["municipality"]}


def _questionnaire(lang: str) -> dict | None:
    """The household the parent described, or None (with what is missing said) until the form is sent complete."""
    today = dt.date.today()
    count = st.number_input(t("onestop.children_count", lang), min_value=1, max_value=MAX_CHILDREN, value=1,
                            key="onestop.nav.children")
    with st.form("onestop.nav.form"):
        first_rules = rule_versions()[0]["effective_from"]
        values = {"as_of": st.date_input(t("onestop.as_of", lang), value=today, min_value=first_rules,
                                         key="onestop.nav.as_of", help=t("onestop.as_of_help", lang))}
        values["relationship"] = st.selectbox(t("onestop.relationship", lang), RELATIONSHIPS, key="onestop.nav.rel",
                                              format_func=lambda v: t(f"onestop.relationship.{v}", lang))
        values["reason_alone"] = st.selectbox(t("onestop.reason_alone", lang), REASONS_ALONE,
                                              key="onestop.nav.reason",
                                              format_func=lambda v: t(f"onestop.reason.{v}", lang))
        children = []
        for number in range(1, int(count) + 1):
            birth = st.date_input(t("onestop.child_birth", lang, number=number), value=None,
                                  min_value=today.replace(year=today.year - 25), max_value=today,
                                  key=f"onestop.nav.birth.{number}")
            disability = st.selectbox(t("onestop.child_disability", lang, number=number), DISABILITIES,
                                      key=f"onestop.nav.disability.{number}",
                                      format_func=lambda v: t(f"onestop.disability.{v}", lang))
            children.append((birth, disability))
        values["dependants"] = st.number_input(t("onestop.dependants", lang), min_value=0, max_value=20,
                                               value=int(count), key="onestop.nav.dependants",
                                               help=t("onestop.dependants_help", lang))
        values["income_kind"] = st.radio(t("onestop.income_kind", lang), ("salary", "shotoku"),
                                         key="onestop.nav.income_kind",
                                         format_func=lambda v: t(f"onestop.income_kind.{v}", lang))
        values["income"] = st.number_input(t("onestop.income_yen", lang), min_value=0, max_value=100_000_000,
                                           step=10_000, key="onestop.nav.income")
        values["child_support"] = st.number_input(t("onestop.child_support_yen", lang), min_value=0,
                                                  max_value=100_000_000, step=10_000, key="onestop.nav.support",
                                                  help=t("onestop.child_support_help", lang))
        values["work"] = st.selectbox(t("onestop.work", lang), WORK, key="onestop.nav.work",
                                      format_func=lambda v: t(f"onestop.work.{v}", lang))
        values["studying"] = st.checkbox(t("onestop.studying", lang), key="onestop.nav.studying")
        values["housing"] = st.selectbox(t("onestop.housing", lang), HOUSING, key="onestop.nav.housing",
                                         format_func=lambda v: t(f"onestop.housing.{v}", lang))
        values["municipality"] = onestop_parents.municipality_input(lang, get_settings(), "onestop.nav.municipality")
        submitted = st.form_submit_button(t("onestop.nav_submit", lang), type="primary")
    if not submitted:
        return None
    missing = [t("onestop.child_birth", lang, number=n) for n, (birth, _) in enumerate(children, start=1)
               if birth is None]
    if values["municipality"] is None:
        missing.append(t("onestop.municipality", lang))
    if missing:
        st.error(t("onestop.nav_missing", lang, fields="、".join(missing)))
        return None
    return _household(values, children)


def _show(answer: dict, lang: str) -> None:
    as_of = dt.date.fromisoformat(answer["as_of"])
    rules = rules_in_force(as_of)
    st.subheader(t("onestop.nav_results", lang))
    st.info(t("onestop.likely_note", lang))
    st.caption(t("onestop.rules_info", lang, version=rules["version"], start=rules["effective_from"].isoformat(),
                 until=rules["effective_until"].isoformat(), month=f"{as_of:%Y-%m}"))
    if not rules["confirmed"]:
        st.warning(t("onestop.rules_unconfirmed", lang, month=f"{as_of:%Y-%m}"))
    for programme in sorted(answer["programmes"], key=lambda p: _LIKELY_ORDER[p["likely"]]):
        with st.container(border=True):
            likely = t(f"onestop.likely.{programme['likely']}", lang)
            st.markdown(f"**{PROGRAMMES[programme['programme']]}** — {likely}")
            if programme["monthly_yen"]:
                st.markdown(t("onestop.monthly", lang, yen=f"{programme['monthly_yen']:,}"))
            st.write(programme["why"])
            st.markdown(t("onestop.bring", lang, items="、".join(programme["bring"])))
            st.markdown(t("onestop.window", lang, window=programme["window"]))
            st.caption(t("onestop.sources", lang) + " " + " ".join(programme["sources"]))


def render() -> None:
    lang = session.language()
    onestop_parents.page_setup(lang, PAGE)
    st.title(t(f"nav.{PAGE}", lang))
    st.caption(t("onestop.nav_help", lang))
    household = _questionnaire(lang)
    if household is not None:
        try:
            session.put(_ANSWER, navigate(household))
        except HouseholdError as bad:
            st.error(t("onestop.nav_bad", lang, reason=str(bad)))
            session.put(_ANSWER, None)
    answer = session.value(_ANSWER)
    if answer is not None:
        _show(answer, lang)
