"""trio_ws echo server with the default keepalive (a ping every 20 s)."""

from __future__ import annotations

from echo_trio_ws import main

if __name__ == "__main__":
    main(keepalive=True)
