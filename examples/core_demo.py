"""Drive two sans-I/O protocol objects against each other, with no I/O at all.

A client protocol sends a fragmented text message, a ping and a close; the
server protocol answers; the bytes in between are printed as hex.
"""

from __future__ import annotations

from trio_ws import Protocol, Role
from trio_ws._core._frames import Opcode


def pump(src: Protocol, dst: Protocol, label: str) -> None:
    data = src.data_to_send()
    if data:
        print(f"{label} {len(data):3d} bytes  {data.hex(' ')}")
        dst.receive_data(data)
    for event in dst.events():
        print(f"    -> {event}")


def main() -> None:
    client, server = Protocol(Role.CLIENT), Protocol(Role.SERVER)
    client.send_frame(Opcode.TEXT, b"Hel", fin=False)
    client.send_frame(Opcode.CONTINUATION, "lo ☃".encode())
    client.send_ping(b"are you there?")
    pump(client, server, "client->server")
    server.send_text("Hello yourself")
    pump(server, client, "server->client")
    client.send_close(1000, "bye")
    pump(client, server, "client->server")
    pump(server, client, "server->client")
    print(f"client closed: {client.close_reason}; server closed: {server.close_reason}")


if __name__ == "__main__":
    main()
