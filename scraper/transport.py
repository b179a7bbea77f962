"""The crawl's HTTP/1.1 transport for httpx: httpcore's HTTP/1.1 connections on asyncio
streams, in a pool that does no more than the crawl needs.

Why not httpx's default transport: its pool and anyio streams pause the task at many
points of every request (lock checkpoints, an event wait, a checkpoint per socket read),
and each pause lets every other ready request run first. When ten hosts' answers arrive
together, each one then waits for all ten to be processed, about 2 ms per request at
50 ms latency: 4% of the crawl's speed with one connection per host. Here the protocol
is still httpcore's (`AsyncHTTP11Connection`, h11 underneath); the sockets are asyncio
streams, which read buffered data without pausing; the pool is a list of idle
connections per origin (the crawl's own `Gate` already limits how many run at once), so
the connections need no lock of their own. Measured by `bench/crawl.py`.

Proxies are not handled here: when the environment names one (HTTP_PROXY, HTTPS_PROXY,
ALL_PROXY), `crawl_transport` returns None and the client keeps httpx's default
transport, which honours them (httpx ignores them once a transport is given).
"""

from __future__ import annotations

import asyncio
import ssl
import urllib.request
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import httpcore
import httpx
from httpcore import AsyncNetworkStream

KEEPALIVE_EXPIRY = 5.0  # seconds an idle connection is kept, as httpx's default
MAX_IDLE_PER_ORIGIN = 8

# httpcore's exceptions as httpx's, as httpx's own transport maps them.
EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


# A reused connection that fails like this before any answer was closed by the server
# while idle; an idempotent request is then sent again, once, on a new connection.
STALE = (httpcore.RemoteProtocolError, httpcore.ReadError, httpcore.WriteError)
IDEMPOTENT = {"GET", "HEAD", "OPTIONS"}


def as_httpx(exc: Exception) -> Exception:
    for theirs, ours in EXCEPTIONS:
        if isinstance(exc, theirs):
            return ours(str(exc))
    return exc


class Stream(AsyncNetworkStream):
    """An asyncio stream pair as httpcore's network stream."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data for {timeout} s") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from None

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self.writer.write(buffer)
            async with asyncio.timeout(timeout):
                await self.writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send for {timeout} s") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from None

    async def aclose(self) -> None:
        self.writer.close()

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle connection the server has closed
            return self.reader.at_eof()
        return self.writer.get_extra_info({"client_addr": "sockname",
                                           "server_addr": "peername"}.get(info, info))


class Unlocked:
    """Stands in for a connection's state lock, which this pool never contends."""

    async def __aenter__(self) -> Unlocked:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


class Connection(httpcore.AsyncHTTP11Connection):
    """httpcore's HTTP/1.1 connection without its state lock. The lock is there for pools
    that may hand one connection to two requests; this one never does (a connection is
    either in the idle list or held by one request until its body is closed), and taking
    the lock pauses the task twice per request. `tests/test_transport.py` checks that
    httpcore still names the lock this way."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state_lock = Unlocked()  # type: ignore[assignment]


class Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over keep-alive connections, reused per origin (scheme, host, port)."""

    def __init__(self, verify: bool | ssl.SSLContext = True) -> None:
        self.verify = verify
        # Made on the first https request: loading the CA bundle takes 15-30 ms.
        self.ssl_context = verify if isinstance(verify, ssl.SSLContext) else None
        self.idle: dict[tuple[bytes, bytes, int], list[httpcore.AsyncHTTP11Connection]] = (
            defaultdict(list))
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https"
                                                            else 80))
        core = httpcore.Request(
            method=request.method,
            url=httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port,
                             target=url.raw_path),
            headers=request.headers.raw, content=request.stream,
            extensions=request.extensions)
        connection = await self.reuse(origin)
        resend = connection is not None and request.method in IDEMPOTENT
        while True:
            try:
                if connection is None:
                    connection = await self.connect(origin, request.extensions)
                response = await connection.handle_async_request(core)
                break
            except Exception as exc:  # noqa: BLE001 - mapped and re-raised
                if connection is not None:
                    await connection.aclose()
                if not (resend and isinstance(exc, STALE)):
                    raise as_httpx(exc) from exc
                # Most likely the server closed the idle connection as we sent on it (its
                # keep-alive timeout ran out): not the request's fault. Once more, anew.
                connection, resend = None, False
        return httpx.Response(status_code=response.status, headers=response.headers,
                              stream=Body(self, origin, connection, response),
                              extensions=response.extensions)

    async def reuse(self, origin: tuple[bytes, bytes, int]
                    ) -> httpcore.AsyncHTTP11Connection | None:
        """The most recently used idle connection that is still good, if any."""
        idle = self.idle[origin]
        while idle:
            connection = idle.pop()
            if connection.is_idle() and not connection.has_expired():
                return connection
            await connection.aclose()
        return None

    def release(self, origin: tuple[bytes, bytes, int],
                connection: httpcore.AsyncHTTP11Connection) -> None:
        idle = self.idle[origin]
        if not self.closed and connection.is_idle() and len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(connection)

    async def connect(self, origin: tuple[bytes, bytes, int],
                      extensions: dict[str, Any]) -> httpcore.AsyncHTTP11Connection:
        scheme, host, port = origin
        timeout = (extensions.get("timeout") or {}).get("connect")
        tls = None
        if scheme == b"https":
            if self.ssl_context is None:
                self.ssl_context = httpx.create_ssl_context(verify=self.verify)
            tls = self.ssl_context
        name = host.decode("ascii")
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    name, port, ssl=tls, server_hostname=name if tls else None,
                    limit=2 ** 17)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"no connection to {name}:{port} in {timeout} s"
                                          ) from None
        except (OSError, ssl.SSLError) as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from None
        trace = extensions.get("trace")
        if trace is not None:  # as httpcore's own pool reports a new connection
            await trace("connection.connect_tcp.complete", {"return_value": None})
        return Connection(
            origin=httpcore.Origin(scheme, host, port), stream=Stream(reader, writer),
            keepalive_expiry=KEEPALIVE_EXPIRY)

    async def aclose(self) -> None:
        self.closed = True
        for idle in self.idle.values():
            for connection in idle:
                await connection.aclose()
        self.idle.clear()


class Body(httpx.AsyncByteStream):
    """A response body: httpcore's, with its errors as httpx's, and the connection back
    in the pool once it is read or closed."""

    def __init__(self, transport: Transport, origin: tuple[bytes, bytes, int],
                 connection: httpcore.AsyncHTTP11Connection,
                 response: httpcore.Response) -> None:
        self.transport, self.origin, self.connection = transport, origin, connection
        self.response = response
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_stream():
                yield chunk
        except Exception as exc:  # noqa: BLE001 - mapped and re-raised
            raise as_httpx(exc) from exc

    async def aclose(self) -> None:
        if self.closed:  # released once, or two requests could share the connection
            return
        self.closed = True
        try:
            await self.response.aclose()
        finally:
            self.transport.release(self.origin, self.connection)


def crawl_transport() -> Transport | None:
    """Our transport, or None (httpx's default) when the environment names a proxy."""
    proxies = urllib.request.getproxies()
    if any(proxies.get(scheme) for scheme in ("http", "https", "all")):
        return None
    return Transport()
