"""The WebSocket server: listeners, admission (``max_connections``), the
per-connection task and handshake, draft-76.

Private modules: import the public names from ``trio_ws``.
"""
