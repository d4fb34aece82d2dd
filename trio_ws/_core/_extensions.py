"""Which implementation of the core runs: compiled, or pure Python.

The compiled build (see setup.py) has two parts, both optional and both
built from the sources in this package: the C masking kernel ``_cmask``
(the twin of the pure-Python code in ``_mask.py``) and the modules in
:data:`COMPILED_MODULES`, compiled by mypyc from their own ``.py`` files,
which stay beside the compiled ones. ``TRIO_WS_NO_EXTENSIONS=1`` (any value
but ``0`` or empty) makes the import system skip the compiled files and
load the ``.py`` files instead; it is read once, when ``trio_ws._core`` is
first imported. So does a compiled module older than its source (an
editable install whose ``.py`` was edited since ``pip install -e .``), with
a warning: all of them or none run compiled, since the compiled modules call
each other directly. This module is never compiled itself.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType

__all__ = [
    "COMPILED_MODULES",
    "NO_EXTENSIONS",
    "compiled_modules",
    "implementation",
    "install_source_finder",
    "stale_modules",
]

#: True when ``TRIO_WS_NO_EXTENSIONS`` asks for pure Python.
NO_EXTENSIONS = os.environ.get("TRIO_WS_NO_EXTENSIONS", "") not in ("", "0")

# The modules of this package that setup.py compiles with mypyc (their
# names under trio_ws._core). The C kernel _cmask is apart: _mask.py picks it.
COMPILED_MODULES: tuple[str, ...] = (
    "_assembler",
    "_buffers",
    "_frames",
    "_hixie76_protocol",
    "_lifecycle",
    "_protocol",
    "_states",
)

_PACKAGE = __name__.rpartition(".")[0]

# Seconds a source may be newer than its compiled file before the compiled
# one counts as stale: installers write a wheel's files one after the other
# in any order, without keeping their times; an edit comes much later.
_MTIME_SLACK = 2.0


class _SourceFinder:
    """Finds the compiled modules' ``.py`` files, never their ``.so``."""

    @classmethod
    def find_spec(
        cls,
        fullname: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != _PACKAGE or name not in COMPILED_MODULES or not path:
            return None
        for directory in path:
            source = os.path.join(directory, name + ".py")
            if os.path.exists(source):
                return importlib.util.spec_from_file_location(fullname, source)
        return None


def stale_modules(directory: str) -> list[str]:
    """The modules of COMPILED_MODULES in ``directory`` whose compiled file
    (for this interpreter) is older than their source."""
    stale = []
    for name in COMPILED_MODULES:
        try:
            source = os.stat(os.path.join(directory, name + ".py")).st_mtime
        except OSError:
            continue
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            try:
                built = os.stat(os.path.join(directory, name + suffix)).st_mtime
            except OSError:
                continue
            if built + _MTIME_SLACK < source:
                stale.append(name)
            break
    return stale


def install_source_finder() -> None:
    """With ``TRIO_WS_NO_EXTENSIONS`` set, or a stale compiled module, load
    the compiled modules from their sources (called by ``trio_ws._core``
    before any of them loads)."""
    if _SourceFinder in sys.meta_path:
        return
    if not NO_EXTENSIONS:
        stale = stale_modules(os.path.dirname(os.path.abspath(__file__)))
        if not stale:
            return
        warnings.warn(
            f"trio_ws: compiled {', '.join(stale)} older than the source; "
            "running pure Python (rebuild with pip install -e .)",
            RuntimeWarning,
            stacklevel=2,
        )
    sys.meta_path.insert(0, _SourceFinder)


def _is_extension(module: ModuleType) -> bool:
    path = getattr(module, "__file__", None) or ""
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def compiled_modules(kernel: bool) -> list[str]:
    """The core's modules running compiled (``_cmask`` if ``kernel``, the C
    masking kernel, is in use)."""
    found = ["_cmask"] if kernel else []
    for name in COMPILED_MODULES:
        module = importlib.import_module(f"{_PACKAGE}.{name}")
        if _is_extension(module):
            found.append(name)
    return found


def implementation(kernel: bool) -> str:
    """``"compiled"`` when the kernel (``kernel``: whether _mask.py uses it)
    and every module of :data:`COMPILED_MODULES` are compiled, else ``"pure
    Python"``."""
    compiled = compiled_modules(kernel)
    if len(compiled) == len(COMPILED_MODULES) + 1:
        return "compiled"
    return "pure Python"
