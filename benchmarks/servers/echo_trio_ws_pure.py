"""trio_ws echo server without NumPy: masking in pure Python.

NumPy is hidden before trio_ws is imported (``import numpy`` then fails), so
the server runs as it would where the ``speedups`` extra is not installed.
"""

from __future__ import annotations

import sys

sys.modules["numpy"] = None  # type: ignore[assignment]

from echo_trio_ws import main  # noqa: E402

if __name__ == "__main__":
    main()
