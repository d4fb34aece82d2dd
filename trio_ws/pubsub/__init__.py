"""Broadcast: the ``PubSub`` protocol and the in-process ``LocalPubSub`` hub.

Private modules: import the public names from ``trio_ws``.
"""
