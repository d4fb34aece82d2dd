"""picows echo server (outside reference: Cython, on uvloop when installed)."""

from __future__ import annotations

from _common import HOST, MAX_MESSAGE_SIZE, run_asyncio_server
from picows import WSListener, WSMsgType, ws_create_server


class Echo(WSListener):  # type: ignore[misc]
    def on_ws_frame(self, transport, frame) -> None:  # type: ignore[no-untyped-def]
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type in (
            WSMsgType.TEXT,
            WSMsgType.BINARY,
            WSMsgType.CONTINUATION,
        ):
            transport.send(frame.msg_type, frame.get_payload_as_bytes(), frame.fin)


def main() -> None:
    run_asyncio_server(
        __doc__,
        lambda port: ws_create_server(
            lambda _request: Echo(), HOST, port, max_frame_size=MAX_MESSAGE_SIZE
        ),
    )


if __name__ == "__main__":
    main()
