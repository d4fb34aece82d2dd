"""Pub/sub over Redis or Valkey: ``from trio_ws.pubsub.redis import open_redis_pubsub``.

Needs the ``redis`` extra (``pip install 'trio_ws[redis]'``); importing this
module does not import the client, opening a hub does. See
``docs/howto/redis.rst``.
"""

from ._redis import (
    PUBLISH_TIMEOUT,
    RECONNECT_DELAY_FIRST,
    RECONNECT_DELAY_MAX,
    BrokerUnavailable,
    RedisPubSub,
    open_redis_pubsub,
)

__all__ = [
    "PUBLISH_TIMEOUT",
    "RECONNECT_DELAY_FIRST",
    "RECONNECT_DELAY_MAX",
    "BrokerUnavailable",
    "RedisPubSub",
    "open_redis_pubsub",
]
