"""uvicorn leaves TCP_NODELAY off on accepted sockets with several workers (uvicorn#3149), so keep-alive
answers wait ~40 ms for Nagle's algorithm. weir's protocol class sets it: checked on a real connection."""

from __future__ import annotations

import socket
import threading
import time

import httpx
import uvicorn

from tests.serving.conftest import free_port
from weir.server import NoDelayHttpTools

seen: list[int] = []


class Recording(NoDelayHttpTools):
    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_accepted_connections_have_tcp_nodelay() -> None:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=Recording, loop="asyncio", log_level="error")
    shared = config.bind_socket()  # as with --workers: the parent binds, each worker serves the shared socket
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [shared]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert [http.get("/").status_code for _ in range(3)] == [200] * 3  # one keep-alive connection
    finally:
        server.should_exit = True
        thread.join(10)
    assert seen and all(flag != 0 for flag in seen)
