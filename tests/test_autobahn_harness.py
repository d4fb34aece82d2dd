"""The Autobahn testees run with the options a new user gets.

A harness that raises a limit hides the bugs users hit with the defaults
(Autobahn 9.3.1/9.4.1 once failed under the default max_fragments while the
harness passed, because it raised that limit). Only max_message_size may be
raised: Autobahn 9.x sends 16 MiB messages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import attrs
import pytest

from trio_ws import ConnectionOptions

AUTOBAHN = Path(__file__).resolve().parents[1] / "autobahn"
OPTION_NAMES = {field.name for field in attrs.fields(ConnectionOptions)}
ALLOWED = {"max_message_size"}


@pytest.mark.parametrize(
    ("script", "function"),
    [("server.py", "serve_websocket"), ("client.py", "open_websocket_url")],
)
def test_testee_passes_only_max_message_size(script: str, function: str) -> None:
    tree = ast.parse((AUTOBAHN / script).read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and any(
            isinstance(arg, ast.Name) and arg.id == function
            for arg in [node.func, *node.args]
        )
    ]
    assert calls, f"{script} does not call {function}"
    for call in calls:
        names = {keyword.arg for keyword in call.keywords}
        assert None not in names, f"{script}: **options would hide what is passed"
        assert names & OPTION_NAMES == ALLOWED
