"""The browser tests' fixtures, from ui_browser (a module of its own name, so that no test imports a `conftest`)."""

from ui_browser import browser, populated, watched  # noqa: F401
