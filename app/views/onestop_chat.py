"""Parents: the chatbot (Japanese). Answers only from the knowledge base, naming the programme and its source; the
emergency answer first when a question signals danger; the window and its hours when it does not know. The
conversation lives in the browser session only. "Talk to a person" hands it to the one-stop desk: a consultation
is opened only after the parent's explicit consent, and the parent gets the code to come back with."""
from __future__ import annotations

import streamlit as st

from app import session
from app.i18n import literal, t
from app.navigation import ONESTOP_CODE, ONESTOP_NAVIGATOR
from app.services import operational_store
from app.views import onestop_code, onestop_parents
from kodomo.onestop.catalogue import EMERGENCY, PROGRAMMES
from kodomo.onestop.chatbot import Answer, ask
from kodomo.onestop.consultations import ConsultationError, open_consultation
from kodomo.onestop.handover import Turn, departments_for, suggested_programmes, summary
from kodomo.operational import CONTACT_PREFERENCES
from kodomo.settings import get_settings

PAGE = "onestop_chat"
_TURNS, _HANDOVER, _GIVEN = "onestop.chat.turns", "onestop.chat.handover", "onestop.chat.code_given"


def _link(url: str) -> str:
    return f"[{literal(url)}]({url})"


def _show_answer(answer: Answer, lang: str) -> None:
    if answer.programme == EMERGENCY:  # before anything else, and nothing but the referral
        st.error(answer.text, icon="🚨")
        return
    if answer.programme is None:
        st.info(answer.text)
        st.caption(t("onestop.chat_fallback_hint", lang))
        return
    text = literal(answer.text)
    for source in answer.sources:  # a link of its own: a bare URL would run on into the Japanese after it
        text = text.replace(literal(source), _link(source))
    st.markdown(text)
    st.caption(t("onestop.chat_used", lang, programme=PROGRAMMES[answer.programme], source=_link(answer.sources[0])))
    if answer.offers_navigator:
        st.page_link(ONESTOP_NAVIGATOR.file, label=t("onestop.open_navigator", lang), icon="🧮")


def _conversation(lang: str) -> list[tuple[str, Answer]]:
    turns: list[tuple[str, Answer]] = session.value(_TURNS) or []
    question = st.chat_input(t("onestop.chat_placeholder", lang), key="onestop.chat.input")
    if question and question.strip():
        turns = [*turns, (question.strip(), ask(question))]
        session.put(_TURNS, turns)
    if not turns:
        with st.chat_message("assistant"):
            st.write(t("onestop.chat_welcome", lang))
    for asked, answer in turns:
        with st.chat_message("user"):
            st.markdown(literal(asked))
        with st.chat_message("assistant"):
            _show_answer(answer, lang)
    return turns


def _handover(turns: list[tuple[str, Answer]], lang: str) -> None:
    """The consent form; on consent, the consultation opened and its code kept for the parent."""
    conversation = [Turn(asked, answer.programme) for asked, answer in turns]
    programmes = suggested_programmes(conversation)
    current = get_settings()
    with st.form("onestop.chat.handover_form"):
        st.markdown(t("onestop.handover_what", lang))
        note = st.text_area(t("onestop.handover_note", lang), key="onestop.chat.note",
                            help=t("onestop.handover_note_help", lang))
        if conversation:
            with st.expander(t("onestop.handover_preview", lang)):
                st.text(summary(conversation, ""))
        if programmes:
            st.caption(t("onestop.handover_programmes", lang, programmes="、".join(PROGRAMMES[p] for p in programmes)))
        municipality = onestop_parents.municipality_input(lang, current, "onestop.chat.municipality")
        contact = st.radio(t("onestop.contact", lang), CONTACT_PREFERENCES, key="onestop.chat.contact",
                           format_func=lambda c: t(f"onestop.contact.{c}", lang))
        consent = st.checkbox(t("onestop.consent", lang), key="onestop.chat.consent")
        submitted = st.form_submit_button(t("onestop.handover_submit", lang), type="primary")
    if not submitted:
        return
    if not consent:  # said before anything is sent; the store refuses it too (ConsentRequired)
        st.error(t("onestop.consent_needed", lang))
        return
    needs = summary(conversation, note)
    if not needs:
        st.error(t("onestop.handover_empty", lang))
        return
    if municipality is None:
        st.error(t("onestop.handover_no_municipality", lang))
        return
    try:
        _, code = open_consultation(operational_store(current), current, consent, municipality, needs, programmes,
                                    contact, departments_for(programmes))
    except ConsultationError as refused:
        st.error(t("onestop.handover_refused", lang, reason=str(refused)))
        return
    session.put(_GIVEN, code)
    session.put(_HANDOVER, False)
    onestop_code.remember_code(code)
    st.rerun()


def render() -> None:
    lang = session.language()
    onestop_parents.page_setup(lang, PAGE)
    st.title(t(f"nav.{PAGE}", lang))
    st.caption(t("onestop.chat_help", lang))
    st.caption(t("onestop.danger_hint", lang))
    turns = _conversation(lang)
    given = session.value(_GIVEN)
    if given:
        st.success(t("onestop.code_given", lang))
        st.code(given, language=None)
        st.page_link(ONESTOP_CODE.file, label=t("onestop.link.onestop_code", lang))
        return
    if session.value(_HANDOVER):
        _handover(turns, lang)
    else:
        st.button(t("onestop.talk_to_person", lang), key="onestop.chat.talk",
                  on_click=session.put, args=(_HANDOVER, True))
