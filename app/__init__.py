"""The Streamlit app (``streamlit run app/main.py``): the caseworker's intake page and the model page."""
