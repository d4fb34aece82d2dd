"""Pub/sub over Redis or Valkey: ``from trio_ws.pubsub.redis import open_redis_pubsub``
(fire-and-forget PUBLISH/SUBSCRIBE) or ``open_redis_streams`` (durable, on
Redis Streams: a subscriber resumes from an id).

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
from ._streams import (
    DEFAULT_STREAM_MAXLEN,
    RedisStreams,
    StreamEntry,
    StreamSubscription,
    open_redis_streams,
)

__all__ = [
    "DEFAULT_STREAM_MAXLEN",
    "PUBLISH_TIMEOUT",
    "RECONNECT_DELAY_FIRST",
    "RECONNECT_DELAY_MAX",
    "BrokerUnavailable",
    "RedisPubSub",
    "RedisStreams",
    "StreamEntry",
    "StreamSubscription",
    "open_redis_pubsub",
    "open_redis_streams",
]
