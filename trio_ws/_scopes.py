"""Nurseries hidden from the user, and what leaves them.

trio_ws runs helper tasks (readers, keepalive, write helpers, the server's
connection tasks) in nurseries the user does not see. Under
``strict_exception_groups`` every nursery raises an exception group, which
would turn a user's ``ValueError`` or an outer ``Cancelled`` into a nested
``BaseExceptionGroup`` of our making. The rule (docs/architecture.rst,
"Lifetimes"): what leaves a nursery of ours is

- the user's own exception, unchanged, when the body raised one (it wins
  over anything our cleanup raised meanwhile);
- else the single exception inside the group (a handler's
  ``KeyboardInterrupt``, say), unchanged;
- else, when the group holds nothing but ``Cancelled``, one ``Cancelled``:
  it reaches the cancelled scope as the plain exception trio raised;
- else (several real errors at once) the group itself.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import trio

__all__ = [
    "body_error_wins",
    "collapse",
    "hidden_nursery",
    "is_group",
    "leaves",
    "reraise",
]

logger = logging.getLogger("trio_ws")


def is_group(exc: BaseException) -> bool:
    """True for an exception group.

    (Duck-typed on ``.exceptions``: the same on 3.10, with trio's
    ``exceptiongroup`` backport, and on 3.11+.)
    """
    return isinstance(getattr(exc, "exceptions", None), tuple)


def leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc``, groups flattened (``[exc]`` if not one)."""
    if not is_group(exc):
        return [exc]
    return [leaf for each in exc.exceptions for leaf in leaves(each)]  # type: ignore[attr-defined]


def collapse(exc: BaseException) -> BaseException:
    """The one exception a group from our helper tasks stands for (see above)."""
    found = leaves(exc)
    real = [leaf for leaf in found if not isinstance(leaf, trio.Cancelled)]
    if len(real) == 1:
        return real[0]
    if not real and found:
        return found[0]
    return exc


def reraise(exc: BaseException) -> None:
    """Raise ``exc`` outside of any ``except`` block, so that its
    ``__context__`` stays what it was (call it after the block)."""
    try:
        raise exc
    finally:
        del exc


@asynccontextmanager
async def hidden_nursery() -> AsyncIterator[trio.Nursery]:
    """A nursery for helper tasks that never shows up in what the body raises.

    When the body ends (any way), the nursery's remaining tasks are
    cancelled; they are helpers and have recorded what they had to. The
    body's exception leaves unchanged; see the module docstring for the rest.
    """
    error: BaseException | None = None
    try:
        async with trio.open_nursery() as nursery:
            try:
                yield nursery
            except BaseException as exc:
                error = exc
            finally:
                nursery.cancel_scope.cancel()
    except BaseException as group:  # (a group: the body's error was caught)
        failure = collapse(group)
        if error is None or (
            # The body was cancelled because a helper failed: the failure
            # is what happened (an outer cancellation, if any, comes back
            # at the next checkpoint).
            isinstance(error, trio.Cancelled)
            and not isinstance(failure, trio.Cancelled)
        ):
            error = failure
        else:
            # The body's exception wins; a helper's own failure (a bug: they
            # never raise) is logged rather than lost.
            for leaf in leaves(group):
                if not isinstance(leaf, trio.Cancelled):
                    logger.error("a trio_ws helper task failed", exc_info=leaf)
    if error is not None:
        reraise(error)


@asynccontextmanager
async def body_error_wins(
    manager: AbstractAsyncContextManager[Any],
) -> AsyncIterator[None]:
    """``async with manager``, letting the body's exception out unchanged.

    For context managers of other libraries that run a task group (coredis's
    client): what the body raises would otherwise leave wrapped in their
    exception group. Anything else the manager raises leaves as it is.
    """
    error: BaseException | None = None
    try:
        async with manager:
            try:
                yield
            except BaseException as exc:
                error = exc
                raise
    except BaseException as exc:
        if error is None or error is exc or error not in leaves(exc):
            raise
    if error is not None:
        reraise(error)
