"""The WebSocket client: connect, TLS, the opening handshake, and the
``open_websocket*`` / ``connect_websocket*`` entry points.

Private modules: import the public names from ``trio_ws``.
"""
