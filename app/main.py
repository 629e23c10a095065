"""The app's entry point (``streamlit run app/main.py``): language, the synthetic-data banner, sign-in, and the
menu of the signed-in user's role (``app.navigation``)."""
import streamlit as st

from app import session
from app.i18n import LANGUAGES, t
from app.navigation import NOTICES, PARENT_PAGES, has_page, pages_for
from app.services import champion, missing_secret, operational_store
from app.views import onestop_parents
from kodomo.appdata.accounts import record_sign_out
from kodomo.settings import get_settings
from kodomo.sharing.notifications import unread_count

LANGUAGE_NAMES = {"ja": "日本語", "en": "English"}

st.set_page_config(page_title=t("app_title", session.language()), layout="wide")
# A label that does not change with the language: the choice must survive the switch it makes.
st.sidebar.radio("言語 / Language", LANGUAGES, format_func=LANGUAGE_NAMES.get, key=session.LANGUAGE_KEY,
                 horizontal=True)
lang = session.language()
st.warning(t("synthetic_banner", lang), icon="⚠️")

current = get_settings()
missing = missing_secret(current)  # production refuses to run without the deployment's secret
if missing:
    st.error(t("no_secret", lang, reason=missing))
    st.stop()
if current.warehouse_path.exists():
    champion(current)  # loaded once per version, with a message, before anyone waits for a page

user = session.user()
if user is None:
    # Signed out: the sign-in page and the parents' pages, which need no account and reach no staff page or data.
    signin = st.Page("routes/signin.py", title=t("sign_in_title", lang), url_path="signin", default=True)
    chosen = st.navigation([signin, *(st.Page(page.file, title=t(page.title_key, lang), url_path=page.key)
                                      for page in PARENT_PAGES)], position="hidden")
    if chosen is signin:
        onestop_parents.entrance(lang)
    chosen.run()
    st.stop()

st.sidebar.markdown(t("signed_in_as", lang, name=user.display_name, role=t(f"role.{user.role}", lang)))
if has_page(user.role, NOTICES):  # on every page: the changes not yet read by this user
    st.sidebar.markdown(t("notices.unread", lang, count=unread_count(operational_store(current), user)))
if st.sidebar.button(t("sign_out", lang), key="sign_out"):
    record_sign_out(operational_store(current), user)
    session.sign_out()
    if current.auth_mode == "oidc":
        st.logout()
    st.rerun()

menu = pages_for(user.role)
first = next(iter(menu.values()))[0]
st.navigation({t(section, lang): [st.Page(page.file, title=t(page.title_key, lang), url_path=page.key,
                                          default=page == first) for page in pages]
               for section, pages in menu.items()}).run()
