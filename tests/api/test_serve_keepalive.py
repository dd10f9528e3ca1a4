"""The HTTP socket `mlineage serve` listens on gives its connections TCP_NODELAY (no 40 ms per keep-alive answer)."""

from __future__ import annotations

import asyncio
import socket

from mlineage.cli.serve import _listen


def _nodelay_of_served_connection(listening: socket.socket) -> int:
    """TCP_NODELAY of the connection asyncio accepts on ``listening`` (as uvicorn's server does)."""

    async def main() -> int:
        seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            sock = writer.get_extra_info("socket")
            seen.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            writer.close()

        server = await asyncio.start_server(connected, sock=listening)
        host, port = listening.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        try:
            return await asyncio.wait_for(seen, 10)
        finally:
            writer.close()
            server.close()

    return asyncio.run(main())


def test_connections_on_the_served_socket_send_without_delay():
    listening = _listen("127.0.0.1", 0)
    try:
        assert listening.proto == socket.IPPROTO_TCP
        assert _nodelay_of_served_connection(listening) != 0
    finally:
        listening.close()


def test_a_socket_that_does_not_name_tcp_would_delay():
    # The check above can fail: asyncio leaves TCP_NODELAY off on a socket made with proto 0.
    plain = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    plain.bind(("127.0.0.1", 0))
    plain.listen(8)
    try:
        assert _nodelay_of_served_connection(plain) == 0
    finally:
        plain.close()
