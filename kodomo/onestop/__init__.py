"""One-stop support for single-parent families (issue 12): the navigator and the chatbot.

``navigator.navigate(household)`` answers one-stop.md §3 from the versioned rules in ``rules/``;
``chatbot.ask(question)`` answers from the curated knowledge base in ``knowledge/``.
"""
