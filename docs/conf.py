"""Sphinx configuration for the trio_ws documentation.

Build with ``python -m nox -s docs`` (warnings are errors); the pages are
reStructuredText, the API reference comes from the docstrings (Google style,
read by napoleon). No extension fetches anything from the network.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the package, when it is not installed

import trio_ws  # noqa: E402

project = "trio_ws"
author = "the trio_ws authors"
copyright = "the trio_ws authors"
release = trio_ws.__version__
version = release

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon"]

exclude_patterns = ["_build", "snippets", "requirements.txt"]
default_role = "code"  # `x` renders as code, like ``x``
nitpicky = False  # type hints name private and third-party types
# The examples are shown with literalinclude and tested by
# tests/test_docs_snippets.py; nothing here executes them.

# -- autodoc and napoleon ---------------------------------------------------
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True}
# The Python version's own annotations read better than evaluated ones.
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# -- HTML ---------------------------------------------------------------------
html_theme = "furo"
html_title = f"trio_ws {release}"
html_static_path: list[str] = []

_log = logging.getLogger(__name__)


def _check_api_coverage(app: Sphinx, env: Any) -> None:
    """Warn (an error under -W) for names in trio_ws.__all__ not documented."""
    documented = set(env.get_domain("py").objects)
    for name in trio_ws.__all__:
        if name.startswith("__"):
            continue
        if f"trio_ws.{name}" not in documented:
            _log.warning(
                "trio_ws.%s is in trio_ws.__all__ but not in docs/api.rst", name
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-check-consistency", _check_api_coverage)
    return {"parallel_read_safe": True}
