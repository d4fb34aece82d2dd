"""Broadcast: the ``PubSub`` protocol, the in-process hub and broker adapters.

Private modules: import ``PubSub``, ``LocalPubSub`` and ``Subscription``
from ``trio_ws``. The Redis/Valkey adapter is the public module
``trio_ws.pubsub.redis`` (the ``redis`` extra), not imported by ``trio_ws``.
"""
