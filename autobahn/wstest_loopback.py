"""Run wstest (Python 2.7) with every listening socket bound to loopback.

autobahn 0.10.9's fuzzingserver calls ``listenWS(factory)``, which listens on
all interfaces. This wrapper replaces that call with one that binds the host
of the spec's ``url`` (which must be a loopback address), then runs wstest's
own command line unchanged. Pass ``--webport 0`` too: wstest's embedded web
server would otherwise listen on port 8080 on every interface.

Usage: <py27-venv>/bin/python wstest_loopback.py -m fuzzingserver -s spec.json
(Python 2.7 syntax: this file runs inside the testsuite's virtualenv.)
"""

import sys

from autobahn.twisted import websocket
from autobahntestsuite import fuzzing, wstest

_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_listen_ws = websocket.listenWS


def listen_ws_loopback(factory, contextFactory=None, backlog=50, interface=""):
    host = getattr(factory, "host", None) or "127.0.0.1"
    if host not in _LOOPBACK:
        raise SystemExit("wstest_loopback: refusing to listen on " + repr(host))
    if host == "localhost":
        host = "127.0.0.1"
    return _listen_ws(factory, contextFactory, backlog, interface or host)


fuzzing.listenWS = listen_ws_loopback

if __name__ == "__main__":
    sys.argv[0] = "wstest"
    sys.exit(wstest.run())
