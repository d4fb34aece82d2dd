"""The sans-I/O WebSocket core: frames, handshake, protocol state machine.

Nothing in this package imports trio, touches a socket or reads a clock, so it
can be tested byte for byte and reused under any I/O framework.

``IMPLEMENTATION`` says which build of it runs: ``"compiled"`` (the C
masking kernel and the mypyc-compiled modules) or ``"pure Python"`` (no C
compiler at install time, or ``TRIO_WS_NO_EXTENSIONS=1``); see _extensions.py.
"""

from ._extensions import implementation, install_source_finder

install_source_finder()  # (before any compiled module is imported)

from ._mask import COMPILED as _KERNEL  # noqa: E402

#: ``"compiled"`` or ``"pure Python"``.
IMPLEMENTATION = implementation(_KERNEL)
