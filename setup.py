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

import ast
import os
import sys
import traceback

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = os.environ.get("TRIO_WS_NO_EXTENSIONS", "") not in ("", "0")
CORE = os.path.join("trio_ws", "_core")
KERNEL = "trio_ws._core._cmask"

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
    # COMPILED_MODULES, read from _extensions.py without importing the
    # package (trio may be missing at build time).
    with open(os.path.join(CORE, "_extensions.py")) as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "COMPILED_MODULES"
            and node.value is not None
        ):
            names = ast.literal_eval(node.value)
            assert isinstance(names, tuple)
            return names
    raise RuntimeError("COMPILED_MODULES not found in _extensions.py")


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
                # mypyc type-checks every module the compiled ones reach,
                # the package's __init__ and through it the client; the
                # optional extras (python-socks, prometheus_client, coredis)
                # are not in the build environment. `nox -s typecheck`, with
                # them installed, is the type check of record.
                [
                    "--ignore-missing-imports",
                    *(os.path.join(CORE, name + ".py") for name in names),
                ],
                opt_level="3",
                group_name="trio_ws._core._native",
            )
        )
    except (Exception, SystemExit):  # mypyc exits on a type error
        traceback.print_exc()
        warn("mypyc failed")
        return []


class OptionalBuildExt(build_ext):
    """build_ext that turns every failure into a warning.

    The mypyc modules go together (each imports the shared library of the
    group): if one of them fails, those already built are removed, so that
    the package is either compiled or pure Python, never half of each.
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            warn(f"{type(exc).__name__}: {exc}")
            self._remove(self.extensions)

    def build_extensions(self) -> None:
        mypyc_failed = False
        for ext in self.extensions:
            is_mypyc = ext.name != KERNEL
            if is_mypyc and mypyc_failed:
                continue
            try:
                self.build_extension(ext)
            except Exception as exc:
                warn(f"{ext.name}: {type(exc).__name__}: {exc}")
                mypyc_failed = mypyc_failed or is_mypyc
        if mypyc_failed:
            self._remove([ext for ext in self.extensions if ext.name != KERNEL])

    def _remove(self, extensions: list[Extension]) -> None:
        for ext in extensions:
            for path in {self.get_ext_fullpath(ext.name), self._inplace_path(ext)}:
                if os.path.exists(path):
                    os.remove(path)

    def _inplace_path(self, ext: Extension) -> str:
        inplace, self.inplace = self.inplace, True
        try:
            return self.get_ext_fullpath(ext.name)
        finally:
            self.inplace = inplace


def extensions() -> list[Extension]:
    if NO_EXTENSIONS:
        sys.stderr.write("TRIO_WS_NO_EXTENSIONS is set: pure Python only\n")
        return []
    kernel = Extension(
        KERNEL,
        [os.path.join(CORE, "_cmask.c")],
        extra_compile_args=["-O3"] if os.name == "posix" else [],
    )
    return [kernel, *mypyc_extensions()]


setup(ext_modules=extensions(), cmdclass={"build_ext": OptionalBuildExt})
