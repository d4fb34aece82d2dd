"""Nox sessions: tests, lint, typecheck (more arrive with their issues).

Run ``python -m pip install nox && python -m nox -s tests`` on a machine that has
only Python: every session installs what it needs into its own virtualenv.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests", "lint", "typecheck"]

LINT_PATHS = ["trio_ws", "tests", "examples", "noxfile.py"]


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pytest, pytest-trio, hypothesis) on this Python."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", *LINT_PATHS)
    session.run("ruff", "format", "--check", *LINT_PATHS)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("mypy>=1.10", "-e", ".")
    session.run("mypy", "--strict", "trio_ws")
