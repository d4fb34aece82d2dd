"""trio_ws echo server on the pure-Python core (TRIO_WS_NO_EXTENSIONS=1).

The switch is set before trio_ws is imported, so the server runs as it
would where no C compiler was there at install time.
"""

from __future__ import annotations

import os

os.environ["TRIO_WS_NO_EXTENSIONS"] = "1"

from echo_trio_ws import main

from trio_ws._core import IMPLEMENTATION

if __name__ == "__main__":
    assert IMPLEMENTATION == "pure Python", IMPLEMENTATION
    main()
