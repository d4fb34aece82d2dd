"""Build the optional compiled core; fall back to pure Python, never fail.

Everything else about the package is in pyproject.toml. ``pip install .``
(or ``-e .``) builds, when a C compiler is present:

- ``trio_ws._core._cmask``, the C masking kernel (``_cmask.c``), twin of
  the pure-Python code in ``_mask.py``;
- the modules named in ``trio_ws/_core/_extensions.py``
  (``COMPILED_MODULES``), compiled by mypyc from their own sources.

A missing compiler, a failing compile or a missing mypyc prints a warning
and installs pure Python. ``TRIO_WS_NO_EXTENSIONS=1`` skips the build.
"""

from __future__ import annotations

import os
import sys
import traceback

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = os.environ.get("TRIO_WS_NO_EXTENSIONS", "") not in ("", "0")
CORE = os.path.join("trio_ws", "_core")

WARNING = """
*********************************************************************
WARNING: trio_ws's compiled core could not be built ({what}).
trio_ws is installed in pure Python: it works the same, more slowly.
(Install a C compiler and reinstall to get the compiled core.)
*********************************************************************
"""


def warn(what: str) -> None:
    sys.stderr.write(WARNING.format(what=what))


def compiled_module_names() -> tuple[str, ...]:
    # Read from _extensions.py without importing the package (trio may be
    # missing at build time).
    namespace: dict[str, object] = {}
    with open(os.path.join(CORE, "_extensions.py")) as source:
        for line in source:
            if line.startswith("COMPILED_MODULES"):
                exec(line, namespace)
                break
    names = namespace.get("COMPILED_MODULES", ())
    assert isinstance(names, tuple)
    return names


def mypyc_extensions() -> list[Extension]:
    names = compiled_module_names()
    if not names:
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        warn("mypyc is not installed")
        return []
    try:
        return list(
            mypycify(
                [os.path.join(CORE, name + ".py") for name in names],
                opt_level="3",
                group_name="trio_ws__core",
            )
        )
    except Exception:  # mypyc reports type errors as exceptions or exits
        traceback.print_exc()
        warn("mypyc failed")
        return []


class OptionalBuildExt(build_ext):
    """build_ext that turns every failure into a warning."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            warn(f"{type(exc).__name__}: {exc}")

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            warn(f"{ext.name}: {type(exc).__name__}: {exc}")


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        sys.stderr.write("TRIO_WS_NO_EXTENSIONS is set: pure Python only\n")
        return []
    kernel = Extension(
        "trio_ws._core._cmask",
        [os.path.join(CORE, "_cmask.c")],
        extra_compile_args=["-O3"] if os.name == "posix" else [],
    )
    return [kernel, *mypyc_extensions()]


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
