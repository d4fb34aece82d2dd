"""The compiled core and its switch (trio_ws/_core/_extensions.py).

``nox -s tests`` runs the suite once per mode and sets TRIO_WS_EXPECT to
the mode it built, so a build that silently fell back to pure Python fails
here instead of passing as "compiled".
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import trio_ws._core
from trio_ws._core import _extensions

from ..conftest import TEST_TIMEOUT

PROBE = """
import json, sys
import trio_ws
from trio_ws._core import IMPLEMENTATION, _extensions
files = {name: sys.modules["trio_ws._core." + name].__file__
         for name in _extensions.COMPILED_MODULES}
print(json.dumps([IMPLEMENTATION, files]))
"""


def probe(**env: str) -> tuple[str, dict[str, str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=TEST_TIMEOUT,
        env={**os.environ, **env},
        check=True,
    )
    implementation, files = json.loads(result.stdout)
    return implementation, files


def test_the_mode_nox_built_is_the_mode_in_use() -> None:
    expected = os.environ.get("TRIO_WS_EXPECT")
    if expected is None:
        pytest.skip("TRIO_WS_EXPECT is not set (nox -s tests sets it)")
    assert expected == trio_ws._core.IMPLEMENTATION


@pytest.mark.parametrize("value", ["1", "yes"])
def test_no_extensions_loads_every_module_from_its_source(value: str) -> None:
    implementation, files = probe(TRIO_WS_NO_EXTENSIONS=value)
    assert implementation == "pure Python"
    assert set(files) == set(_extensions.COMPILED_MODULES)
    assert all(path.endswith(".py") for path in files.values()), files


def test_without_the_switch_the_build_decides() -> None:
    env = {"TRIO_WS_NO_EXTENSIONS": "0"}
    implementation, files = probe(**env)
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    compiled = [name for name, path in files.items() if path.endswith(suffixes)]
    if implementation == "compiled":
        assert sorted(compiled) == sorted(_extensions.COMPILED_MODULES)
    else:
        assert implementation == "pure Python"


def test_implementation_needs_the_kernel_and_every_module() -> None:
    assert _extensions.implementation(kernel=False) == "pure Python"
    if trio_ws._core.IMPLEMENTATION == "compiled":
        assert _extensions.compiled_modules(kernel=True) == [
            "_cmask",
            *_extensions.COMPILED_MODULES,
        ]


def test_a_stale_compiled_module_is_reported(tmp_path: Path) -> None:
    # (On a copy: the real files are never touched.)
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    fresh, edited = _extensions.COMPILED_MODULES[:2]
    for name in (fresh, edited):
        (tmp_path / f"{name}.py").write_text("")
        (tmp_path / f"{name}{suffix}").write_bytes(b"")
    os.utime(tmp_path / f"{fresh}.py", (1000, 1000))
    os.utime(tmp_path / f"{edited}{suffix}", (1000, 1000))
    assert _extensions.stale_modules(str(tmp_path)) == [edited]
    (tmp_path / f"{edited}{suffix}").unlink()  # no compiled file: not stale
    assert _extensions.stale_modules(str(tmp_path)) == []
