"""The app's pages, each a ``render(language)`` function."""
