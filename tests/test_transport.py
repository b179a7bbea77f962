"""scraper.transport against a real asyncio server on 127.0.0.1 that misbehaves on demand."""

from __future__ import annotations

import asyncio
import gzip
import ssl
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpcore
import httpx
import pytest

from scraper.transport import Connection, Transport, Unlocked, crawl_transport


class Server:
    """Paths: /ok/<text>, /close (Connection: close), /hangup (answers, then closes
    without saying so), /last (answers, then drops the next request on the connection,
    as a server whose keep-alive timeout runs out just then), /chunked, /gzip, /stall
    (headers, then nothing), /drop (closes without an answer)."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        last = False
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                method, path = head.decode().split(" ", 2)[:2]
                self.requests.append(path if method == "GET" else f"{method} {path}")
                if path == "/drop" or last:
                    return
                last = path == "/last"
                if path == "/stall":
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n")
                    await asyncio.sleep(1)
                    return
                if path == "/chunked":
                    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
                    continue
                body, extra = path.encode(), b""
                if path == "/gzip":
                    body, extra = gzip.compress(b"unzipped " * 100), b"Content-Encoding: gzip\r\n"
                if path == "/close":
                    extra = b"Connection: close\r\n"
                writer.write(b"HTTP/1.1 200 OK\r\n" + extra + b"Content-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
                if path in ("/close", "/hangup"):
                    return
        finally:
            writer.close()


def run(test: Callable[[str, Server], Awaitable[None]],
        tls: ssl.SSLContext | None = None) -> Server:
    server = Server()

    async def main() -> None:
        listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=tls)
        port = listener.sockets[0].getsockname()[1]
        async with listener:
            await test(f"{'https' if tls else 'http'}://127.0.0.1:{port}", server)

    asyncio.run(main())
    return server


def test_one_connection_carries_many_requests() -> None:
    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport()) as client:
            bodies = [(await client.get(f"{base}/ok/{i}")).text for i in range(5)]
        assert bodies == [f"/ok/{i}" for i in range(5)]

    assert run(test).connections == 1


def test_a_closed_connection_is_replaced() -> None:
    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport()) as client:
            for path in ("/close", "/ok/a", "/hangup", "/ok/b"):
                response = await client.get(base + path)
                assert (response.status_code, response.text) == (200, path)
                await asyncio.sleep(0.05)  # the hang-up reaches the client

    server = run(test)
    assert server.connections == 3  # /close and /hangup each end theirs
    assert server.requests == ["/close", "/ok/a", "/hangup", "/ok/b"]


def test_chunked_and_gzip_bodies_are_decoded() -> None:
    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport()) as client:
            assert (await client.get(base + "/chunked")).text == "hello world"
            assert (await client.get(base + "/gzip")).text == "unzipped " * 100
            assert (await client.get(base + "/ok/after")).text == "/ok/after"

    assert run(test).connections == 1


def test_failures_are_httpx_errors_and_the_next_request_works(closed_port: int) -> None:
    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport(), timeout=0.3) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(base + "/stall")
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(base + "/drop")
            with pytest.raises(httpx.ConnectError):
                await client.get(f"http://127.0.0.1:{closed_port}/")
            assert (await client.get(base + "/ok/fine")).text == "/ok/fine"

    run(test)


def test_new_connections_are_traced_once_each() -> None:
    events: list[str] = []

    async def trace(event: str, info: dict) -> None:
        events.append(event)

    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport()) as client:
            for _ in range(3):
                await client.get(base + "/ok/x", extensions={"trace": trace})

    run(test)
    assert events.count("connection.connect_tcp.complete") == 1
    assert events.count("http11.send_request_headers.started") == 3


def test_tls_is_verified(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport(verify=trusting)) as client:
            assert (await client.get(base + "/ok/secure")).text == "/ok/secure"
        async with httpx.AsyncClient(transport=Transport()) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(base + "/ok/untrusted")

    assert run(test, tls=server_side).requests == ["/ok/secure"]


def test_a_body_closed_twice_returns_its_connection_once() -> None:
    async def test(base: str, server: Server) -> None:
        transport = Transport()
        async with httpx.AsyncClient(transport=transport) as client:
            response = await client.get(base + "/ok/once")
            await response.stream.aclose()  # httpx already closed it once
            assert [len(idle) for idle in transport.idle.values()] == [1]

    run(test)


def test_httpcore_still_names_the_lock_we_replace() -> None:
    # The transport swaps httpcore's per-connection state lock for a no-op (see
    # scraper/transport.py). If httpcore renames it, this fails instead of the crawl
    # silently getting slower.
    origin = httpcore.Origin(b"http", b"127.0.0.1", 80)
    theirs = httpcore.AsyncHTTP11Connection(origin=origin, stream=None)  # type: ignore[arg-type]
    ours = Connection(origin=origin, stream=None)  # type: ignore[arg-type]
    assert type(theirs._state_lock).__name__ == "AsyncLock"
    assert isinstance(ours._state_lock, Unlocked)


def test_a_proxy_in_the_environment_keeps_httpx_transport(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert isinstance(crawl_transport(), Transport)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:3128")
    assert crawl_transport() is None


def test_a_connection_closed_while_idle_is_retried_once_for_a_get() -> None:
    async def test(base: str, server: Server) -> None:
        async with httpx.AsyncClient(transport=Transport()) as client:
            assert (await client.get(base + "/last")).text == "/last"
            # The next request on that connection is dropped: sent again on a new one.
            assert (await client.get(base + "/ok/again")).text == "/ok/again"
            assert (await client.get(base + "/last")).text == "/last"
            with pytest.raises(httpx.RemoteProtocolError):  # not for a POST
                await client.post(base + "/ok/posted", content=b"x")

    server = run(test)
    assert server.requests == ["/last", "/ok/again", "/ok/again", "/last", "POST /ok/posted"]
    assert server.connections == 2
