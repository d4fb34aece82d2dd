"""One WebSocket connection over a Trio stream: the ``WebSocket`` class and
what it is made of (who reads, the writer, closing, keepalive, the message
queue, streaming, statistics), and the per-server sweeper it registers with.

Private modules: import the public names from ``trio_ws``.
"""
