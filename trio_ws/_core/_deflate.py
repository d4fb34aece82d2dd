"""The permessage-deflate extension (RFC 7692), sans-I/O.

Negotiation: a client sends :func:`client_offer` in ``Sec-WebSocket-Extensions``
and checks the server's answer with :func:`client_accept`; a server runs
:func:`server_negotiate` on the client's header values and answers with
:meth:`DeflateParams.response_header`. Both ends then build a
:class:`PerMessageDeflate` from the agreed :class:`DeflateParams`::

    deflate = PerMessageDeflate(params, is_client=False, options=options)
    if deflate.should_compress(len(data)):
        payload = deflate.compress(data)        # send with RSV1 set
    deflate.start_message(max_size)              # a frame with RSV1 arrived
    data = deflate.decompress(payload, final=fin)  # per frame of that message

zlib objects are created on first use and dropped after each message when no
context takeover applies, so an idle connection then holds no zlib state.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence

import attrs

from ._errors import InvalidHandshake, LocalProtocolError, RemoteProtocolError

__all__ = [
    "DEFAULT_COMPRESSION_LEVEL",
    "DEFAULT_MEMORY_LEVEL",
    "DEFAULT_THRESHOLD",
    "DEFAULT_WINDOW_BITS",
    "EXTENSION_NAME",
    "DeflateOptions",
    "DeflateParams",
    "PerMessageDeflate",
    "client_accept",
    "client_offer",
    "parse_extensions",
    "server_negotiate",
]

# --- Defaults (house rule: every bound is named and explained) ----------------

# Our compressor's LZ77 window, as log2 bytes: 4 KiB. zlib's compressor costs
# about (1 << (window_bits + 2)) + (1 << (memory_level + 9)) bytes, so the
# window is most of the per-connection price. Measured with tracemalloc:
# window 15 / memory level 8 holds ~263 KiB, 12 / 5 ~39 KiB, while JSON chat
# traffic with context takeover compressed only ~2% worse. We also ask the peer
# for this window where RFC 7692 lets us (server_max_window_bits in a client
# offer, client_max_window_bits in a server response), which shrinks our
# decompressor from ~40 KiB (window 15) to ~12 KiB.
DEFAULT_WINDOW_BITS = 12
# zlib memLevel (1..9): sizes the match hash table and the pending buffer.
# 5 (instead of zlib's 8) divides that part by 8 for a few % of ratio.
DEFAULT_MEMORY_LEVEL = 5
# zlib's own default level: most of level 9's ratio at a fraction of the CPU.
DEFAULT_COMPRESSION_LEVEL = 6
# Messages shorter than this many bytes are sent uncompressed (RSV1 clear).
# Below ~128 bytes deflate saves a handful of bytes at best (a fresh stream
# turns 128 bytes of JSON into ~106) and often grows tiny messages, while each
# compression costs a zlib call.
DEFAULT_THRESHOLD = 128

EXTENSION_NAME = "permessage-deflate"

# RFC 7692 7.2.1: a sync flush ends with an empty stored block, 00 00 ff ff,
# which the sender removes and the receiver appends back (RFC 7692 7.2.2).
_TAIL = b"\x00\x00\xff\xff"

_SERVER_NO_TAKEOVER = "server_no_context_takeover"
_CLIENT_NO_TAKEOVER = "client_no_context_takeover"
_SERVER_MAX_BITS = "server_max_window_bits"
_CLIENT_MAX_BITS = "client_max_window_bits"
_KNOWN_PARAMS = frozenset(
    {_SERVER_NO_TAKEOVER, _CLIENT_NO_TAKEOVER, _SERVER_MAX_BITS, _CLIENT_MAX_BITS}
)

# RFC 7692 7.1.2.1/7.1.2.2: window bits are 8..15, decimal, no leading zeros.
_WINDOW_BITS = re.compile(r"[89]|1[0-5]")
_MAX_BITS = 15
# zlib refuses a raw compressor with window bits 8 (since 1.2.9; older versions
# silently used 9). Its deflate never matches farther than (1 << bits) - 262
# bytes back, but rather than lean on that detail, an agreed window of 8 is
# served by a 9-bit compressor restricted to Z_RLE (distance-1 matches only),
# whose output any 256-byte-window inflater accepts.
_MIN_ZLIB_COMPRESS_BITS = 9

# RFC 6455 9.1 extension grammar, with RFC 7230 3.2.6 token and quoted-string
# and OWS (optional spaces/tabs) around the separators.
_T = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QS = r'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_PARAM = r"[ \t]*;[ \t]*{0}(?:[ \t]*=[ \t]*{1})?"
_PARAM_RE = re.compile(_PARAM.format(f"({_T})", f"({_T}|{_QS})"))
_EXTENSION = re.compile(
    rf"[ \t]*({_T})((?:{_PARAM.format(_T, f'(?:{_T}|{_QS})')})*)[ \t]*"
)
_TOKEN = re.compile(_T)
_QUOTED_PAIR = re.compile(r"\\(.)")

Extension = tuple[str, list[tuple[str, str | None]]]


# --- Options and agreed parameters --------------------------------------------


def _check_range(name: str, value: int, low: int, high: int | None) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {value!r}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be in {low}..{high or ''}, not {value}")


@attrs.frozen(kw_only=True)
class DeflateOptions:
    """How this end wants permessage-deflate configured.

    Args:
        window_bits: log2 of our compressor's window (9..15); where RFC 7692
            lets us, we ask the peer for it too, to bound our decompressor.
        memory_level: zlib memLevel (1..9): less memory, a little less ratio.
        compression_level: zlib level (-1..9; 0 stores, -1 is zlib's default).
        threshold: messages shorter than this many bytes are sent
            uncompressed (>= 0; 0 compresses everything).
        no_context_takeover: reset our compressor after every message, so an
            idle connection keeps none (costs ratio on repetitive traffic).

    Raises:
        ValueError: a value out of range (TypeError: not an int).
    """

    window_bits: int = DEFAULT_WINDOW_BITS
    memory_level: int = DEFAULT_MEMORY_LEVEL
    compression_level: int = DEFAULT_COMPRESSION_LEVEL
    threshold: int = DEFAULT_THRESHOLD
    no_context_takeover: bool = False

    def __attrs_post_init__(self) -> None:
        _check_range("window_bits", self.window_bits, _MIN_ZLIB_COMPRESS_BITS, 15)
        _check_range("memory_level", self.memory_level, 1, 9)
        _check_range("compression_level", self.compression_level, -1, 9)
        _check_range("threshold", self.threshold, 0, None)


@attrs.frozen
class DeflateParams:
    """The negotiated agreement (RFC 7692 7.1).

    Window bits are the effective values (8..15): 15 when the parameter was
    absent. ``server_*`` constrain the server's compressor (and so the
    client's decompressor), ``client_*`` the other direction.
    """

    server_no_context_takeover: bool
    client_no_context_takeover: bool
    server_max_window_bits: int
    client_max_window_bits: int

    def __attrs_post_init__(self) -> None:
        _check_range("server_max_window_bits", self.server_max_window_bits, 8, 15)
        _check_range("client_max_window_bits", self.client_max_window_bits, 8, 15)

    def response_header(self) -> str:
        """Return the server's ``Sec-WebSocket-Extensions`` value, e.g.
        ``"permessage-deflate; server_max_window_bits=12"``. Window bits of
        15 (what an absent parameter means) are left out."""
        server, client = self.server_max_window_bits, self.client_max_window_bits
        parts = (
            (server < _MAX_BITS, f"{_SERVER_MAX_BITS}={server}"),
            (client < _MAX_BITS, f"{_CLIENT_MAX_BITS}={client}"),
            (self.server_no_context_takeover, _SERVER_NO_TAKEOVER),
            (self.client_no_context_takeover, _CLIENT_NO_TAKEOVER),
        )
        return "; ".join([EXTENSION_NAME, *(part for on, part in parts if on)])


# --- Parsing Sec-WebSocket-Extensions -----------------------------------------


def parse_extensions(values: Sequence[str]) -> list[Extension]:
    """Parse ``Sec-WebSocket-Extensions`` header values (RFC 6455 9.1).

    Each value is a comma-separated list of ``name *( ";" param )`` with
    ``param = token [ "=" ( token / quoted-string ) ]``; several values (the
    header sent several times) are read in order. Names and parameter names
    are lower-cased; quoted values are unquoted.

    Returns:
        ``[(name, [(param, value or None), ...]), ...]`` in header order.

    Raises:
        ValueError: malformed syntax, or a quoted value that is not a token
            once unquoted (RFC 6455 9.1).
    """
    extensions: list[Extension] = []
    for value in values:
        # A comma inside a quoted value splits it, but such a value could not
        # be a token anyway, so the halves fail to match just as they should.
        for item in value.split(","):
            if not item.strip(" \t"):  # RFC 7230 7: empty elements are ignored
                continue
            match = _EXTENSION.fullmatch(item)
            if match is None:
                raise ValueError(f"malformed extension {item[:64]!r}")
            params: list[tuple[str, str | None]] = []
            for name, param_value in _PARAM_RE.findall(match.group(2)):
                if param_value.startswith('"'):
                    param_value = _QUOTED_PAIR.sub(r"\1", param_value[1:-1])
                    # RFC 6455 9.1: once unquoted, it must still be a token.
                    if not _TOKEN.fullmatch(param_value):
                        raise ValueError(f"quoted value {param_value[:32]!r}")
                params.append((name.lower(), param_value or None))
            extensions.append((match.group(1).lower(), params))
    return extensions


def _read_params(params: list[tuple[str, str | None]]) -> dict[str, int | None]:
    # RFC 7692 7: unknown or repeated parameters, a value on a takeover
    # parameter (7.1.1) or window bits not 8..15 (7.1.2) are invalid.
    seen: dict[str, int | None] = {}
    for name, value in params:
        if name not in _KNOWN_PARAMS or name in seen:
            raise ValueError(f"unknown or repeated parameter {name!r}")
        if value is None:
            # RFC 7692 7.1.2.1: server_max_window_bits always has a value.
            if name == _SERVER_MAX_BITS:
                raise ValueError(f"{name} needs a value")
            seen[name] = None
        elif name in (_SERVER_NO_TAKEOVER, _CLIENT_NO_TAKEOVER):
            raise ValueError(f"{name} takes no value")
        elif not _WINDOW_BITS.fullmatch(value):
            raise ValueError(f"invalid {name}={value[:16]!r} (must be 8..15)")
        else:
            seen[name] = int(value)
    return seen


# --- Negotiation --------------------------------------------------------------


def client_offer(options: DeflateOptions) -> str:
    """Return the client's ``Sec-WebSocket-Extensions`` offer.

    Always offers a bare ``client_max_window_bits`` (RFC 7692 7.1.2.2: the
    server may then pick our window; we can compress with any). Asks for
    ``server_max_window_bits=<window_bits>`` when below 15, so our
    decompressor needs only that window (RFC 7692 7.1.2.1), and sends the
    ``client_no_context_takeover`` hint when our compressor resets per
    message (RFC 7692 7.1.1.2).
    """
    parts = [EXTENSION_NAME, _CLIENT_MAX_BITS]
    if options.window_bits < _MAX_BITS:
        parts.append(f"{_SERVER_MAX_BITS}={options.window_bits}")
    if options.no_context_takeover:
        parts.append(_CLIENT_NO_TAKEOVER)
    return "; ".join(parts)


def server_negotiate(
    values: Sequence[str], options: DeflateOptions
) -> DeflateParams | None:
    """Pick the first acceptable permessage-deflate offer (RFC 7692 5, 7.1)
    among the client's ``Sec-WebSocket-Extensions`` header ``values``.

    Returns:
        The agreement (answer with :meth:`DeflateParams.response_header`), or
        None if no offer is acceptable: offers with unknown or repeated
        parameters or invalid values are declined (RFC 7692 7).

    Raises:
        InvalidHandshake: (status 400) the header is not valid syntax.
    """
    try:
        extensions = parse_extensions(values)
    except ValueError as exc:
        raise InvalidHandshake(f"malformed Sec-WebSocket-Extensions: {exc}") from exc
    for name, params in extensions:
        if name != EXTENSION_NAME:
            continue
        try:
            offer = _read_params(params)
        except ValueError:
            continue  # RFC 7692 5: decline this offer, try the next one
        # RFC 7692 7.1.2.1: use at most the window asked for, and say so. Not
        # asked: announce nothing (Firefox has refused unasked-for values);
        # PerMessageDeflate still uses our smaller window, which is legal.
        asked = offer.get(_SERVER_MAX_BITS)
        server_bits = _MAX_BITS if asked is None else min(asked, options.window_bits)
        # RFC 7692 7.1.2.2: if offered (bare: up to 15), we pick our window
        # to bound our decompressor. Not offered: we must not send it.
        client_bits = _MAX_BITS
        if _CLIENT_MAX_BITS in offer:
            client_bits = min(offer[_CLIENT_MAX_BITS] or _MAX_BITS, options.window_bits)
        return DeflateParams(
            # RFC 7692 7.1.1.1: accept the client's request, and make it
            # ours when our compressor resets per message anyway.
            server_no_context_takeover=(
                _SERVER_NO_TAKEOVER in offer or options.no_context_takeover
            ),
            # RFC 7692 7.1.1.2: echo the client's hint.
            client_no_context_takeover=_CLIENT_NO_TAKEOVER in offer,
            server_max_window_bits=server_bits,
            client_max_window_bits=client_bits,
        )
    return None


def client_accept(value: str, options: DeflateOptions) -> DeflateParams:
    """Validate the server's ``Sec-WebSocket-Extensions`` answer to
    :func:`client_offer` and return the agreement.

    Raises:
        InvalidHandshake: the answer is malformed, names another extension or
            several, has unknown, repeated or invalid parameters, or a
            ``server_max_window_bits`` above what we asked for. A client
            cannot decline an answer: it fails the connection (RFC 7692 5).
    """
    try:
        extensions = parse_extensions([value])
        if len(extensions) != 1 or extensions[0][0] != EXTENSION_NAME:
            raise ValueError(f"expected exactly one {EXTENSION_NAME}")
        answer = _read_params(extensions[0][1])
        # RFC 7692 7.1.2.2: in a response, client_max_window_bits has a value.
        # (It is allowed only if offered, and client_offer always offers it.)
        if _CLIENT_MAX_BITS in answer and answer[_CLIENT_MAX_BITS] is None:
            raise ValueError(f"{_CLIENT_MAX_BITS} needs a value in a response")
        # RFC 7692 7.1.2.1: at most the window we asked for (had we not asked,
        # window_bits is 15: any). Absent although asked for: we tolerate it
        # and inflate with 15.
        server_bits = answer.get(_SERVER_MAX_BITS) or _MAX_BITS
        if _SERVER_MAX_BITS in answer and server_bits > options.window_bits:
            raise ValueError(
                f"{_SERVER_MAX_BITS} above the {options.window_bits} asked"
            )
    except ValueError as exc:
        raise InvalidHandshake(f"bad permessage-deflate response: {exc}") from exc
    return DeflateParams(
        server_no_context_takeover=_SERVER_NO_TAKEOVER in answer,
        # RFC 7692 7.1.1.2: the server may ask for it even if we did not.
        client_no_context_takeover=_CLIENT_NO_TAKEOVER in answer,
        server_max_window_bits=server_bits,
        client_max_window_bits=answer.get(_CLIENT_MAX_BITS) or _MAX_BITS,
    )


# --- Compression --------------------------------------------------------------


class PerMessageDeflate:
    """Per-connection compression state for one side (RFC 7692 6, 7.2).

    Args:
        params: the negotiated agreement.
        is_client: True on the client: our compressor then follows the
            ``client_*`` parameters and our decompressor the ``server_*``
            ones; the other way round on the server.
        options: our configuration (level, memory, threshold, window cap).
    """

    def __init__(
        self, params: DeflateParams, *, is_client: bool, options: DeflateOptions
    ) -> None:
        client = (params.client_max_window_bits, params.client_no_context_takeover)
        server = (params.server_max_window_bits, params.server_no_context_takeover)
        ours, theirs = (client, server) if is_client else (server, client)
        self._options = options
        # Our compressor may always use a smaller window than agreed. Negative
        # wbits: raw DEFLATE, no zlib header (RFC 7692 7.2.1). An agreed window
        # of 8: see the comment on _MIN_ZLIB_COMPRESS_BITS.
        bits = min(ours[0], options.window_bits)
        self._compressor_args = (
            options.compression_level,
            zlib.DEFLATED,
            -max(bits, _MIN_ZLIB_COMPRESS_BITS),
            options.memory_level,
            zlib.Z_RLE if bits < _MIN_ZLIB_COMPRESS_BITS else zlib.Z_DEFAULT_STRATEGY,
        )
        self._send_reset = ours[1] or options.no_context_takeover
        # A 9-bit inflater accepts every stream an 8-bit one does and also
        # tolerates peers whose zlib silently turned 8 into 9 (pre-1.2.9).
        self._recv_bits = max(theirs[0], _MIN_ZLIB_COMPRESS_BITS)
        self._recv_reset = theirs[1]
        self._compressor: zlib._Compress | None = None
        self._decompressor: zlib._Decompress | None = None
        self._in_message = False
        # Bytes the current incoming message may still produce (None: no cap).
        self._remaining: int | None = None

    @property
    def idle(self) -> bool:
        """True when no zlib object is held (before the first message, and
        between messages when no context takeover applies either way)."""
        return self._compressor is None and self._decompressor is None

    def should_compress(self, size: int) -> bool:
        """Whether to compress a message of ``size`` bytes (the threshold)."""
        return size >= self._options.threshold

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Compress one whole message.

        Returns:
            The payload to send with RSV1 set on the message's first frame
            (RFC 7692 6). An empty message gives ``b"\\x00"`` (RFC 7692
            7.2.3.6: an empty stored block without its tail).
        """
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(*self._compressor_args)
        # RFC 7692 7.2.1: compress, flush to a byte boundary (the flush ends
        # with an empty stored block), and drop that block's 00 00 ff ff.
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if payload.endswith(_TAIL):
            payload = payload[:-4]
        if self._send_reset:  # RFC 7692 7.1.1: next message starts afresh
            self._compressor = None
        return payload

    def compress_fragment(
        self, data: bytes | bytearray | memoryview, *, final: bool
    ) -> bytes:
        """Compress one fragment of a message sent in several frames.

        The fragments' payloads together form one compressed message (RFC
        7692 6.1): each is flushed to a byte boundary so it can be sent at
        once, and only the last drops the trailing ``00 00 ff ff``.
        """
        compressor = self._compressor
        if compressor is None:
            compressor = self._compressor = zlib.compressobj(*self._compressor_args)
        payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
        if final:
            if payload.endswith(_TAIL):
                payload = payload[:-4]
            if self._send_reset:
                self._compressor = None
        return payload

    def renew_budget(self, max_size: int | None) -> None:
        """Allow the next frame of the current message ``max_size`` bytes once
        inflated (for streamed messages: the limit applies per frame)."""
        self._remaining = max_size

    def start_message(self, max_size: int | None) -> None:
        """Start inflating a compressed message (its first frame has RSV1)
        that may inflate to at most ``max_size`` bytes (None: no limit)."""
        self._in_message = True
        self._remaining = max_size

    def decompress(self, data: bytes | bytearray | memoryview, *, final: bool) -> bytes:
        """Inflate one frame's payload of the current compressed message.

        ``data`` is the frame's unmasked payload, ``final`` True for the
        message's last frame (FIN set). Returns what the frame inflates to.

        Raises:
            RemoteProtocolError: close code 1009 when the message would
                inflate past ``max_size`` (at most ``max_size + 1`` bytes are
                produced; the rest is never inflated), 1007 when the data is
                not valid DEFLATE. The connection must then be failed.
            LocalProtocolError: no :meth:`start_message` before.
        """
        if not self._in_message:
            raise LocalProtocolError("decompress() called before start_message()")
        if final:  # RFC 7692 7.2.2: put back the 00 00 ff ff the sender removed
            data = bytes(data) + _TAIL
        try:
            output = self._inflate(data)
        except zlib.error as exc:
            self._end_message(drop=True)
            raise RemoteProtocolError(f"invalid compressed data: {exc}", 1007) from exc
        if final:  # RFC 7692 7.1.1: without takeover the peer starts afresh
            self._end_message(drop=self._recv_reset)
        return output

    def _inflate(self, data: bytes | bytearray | memoryview) -> bytes:
        parts: list[bytes] = []
        while True:
            decompressor = self._decompressor
            if decompressor is None:
                decompressor = zlib.decompressobj(-self._recv_bits)
                self._decompressor = decompressor
            # Bounded: ask for one byte more than allowed (0: no limit); getting
            # it proves the message too big, and the input zlib did not need
            # for it (unconsumed_tail) is never inflated.
            left = self._remaining
            chunk = decompressor.decompress(data, 0 if left is None else left + 1)
            if left is not None:
                if len(chunk) > left:
                    self._end_message(drop=True)
                    raise RemoteProtocolError("message too big once inflated", 1009)
                self._remaining = left - len(chunk)
            parts.append(chunk)
            if not decompressor.eof:
                return b"".join(parts)
            # A BFINAL block ended the DEFLATE stream (RFC 7692 7.2.3.4); what
            # follows starts a new one (RFC 7692 7.2.1), with an empty window.
            data = decompressor.unused_data
            self._decompressor = None
            if not data:
                return b"".join(parts)

    def _end_message(self, *, drop: bool) -> None:
        self._in_message = False
        self._remaining = None
        if drop:
            self._decompressor = None
