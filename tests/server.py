"""A real HTTP server on 127.0.0.1 for the tests: serves fixture files and injects faults.

Routes (besides files under the served folder):
  /status/<code>          answers with that status
  /pdf                    a PDF document
  /big                    a body larger than any cap the tests set (streamed)
  /gzip-bomb              a small gzip body that inflates past the cap
  /redirect/<n>           a chain of n redirects ending at /fixtures/... (see query ?to=)
  /charset/<name>/<path>  the file at <path>, served with Content-Type charset=<name>
  /no-type/<path>         the file at <path>, with no Content-Type header
  /drip/<n>               an HTML body of n bytes, one byte every 0.2 s
  /to?url=<target>        a 302 redirect to <target>, whatever it is (javascript:, data:)
Every request is logged (method, path, headers) in `server.log`.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse


@dataclass
class Served:
    root: Path
    base: str = ""
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def make_handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # quiet
            pass

        def send_body(self, status: int, body: bytes, ctype: str | None,
                      extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            if ctype:
                self.send_header("Content-Type", ctype)
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlparse(self.path)
            served.log.append(("GET", self.path, dict(self.headers.items())))
            parts = url.path.strip("/").split("/")
            head = parts[0]
            if head == "status":
                code = int(parts[1])
                self.send_body(code, f"<html><body>status {code}</body></html>".encode(),
                               "text/html; charset=utf-8")
            elif head == "pdf":
                self.send_body(200, b"%PDF-1.7\n" + b"0" * 2000, "application/pdf")
            elif head == "big":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"<p>" + b"x" * 65536 + b"</p>"
                try:
                    for _ in range(64):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
            elif head == "gzip-bomb":
                body = gzip.compress(b"<p>" + b" " * 20_000_000 + b"</p>")
                self.send_body(200, body, "text/html", {"Content-Encoding": "gzip"})
            elif head == "redirect":
                left = int(parts[1])
                to = parse_qs(url.query).get("to", ["/"])[0]
                target = f"/redirect/{left - 1}?to={to}" if left > 1 else to
                self.send_body(302, b"", None, {"Location": target})
            elif head == "charset":
                self.serve_file("/".join(parts[2:]), f"text/html; charset={parts[1]}")
            elif head == "no-type":
                self.serve_file("/".join(parts[1:]), None)
            elif head == "drip":
                self.drip(int(parts[1]))
            elif head == "to":
                self.send_body(302, b"", None, {"Location": parse_qs(url.query)["url"][0]})
            else:
                self.serve_file(url.path.strip("/"), "text/html; charset=utf-8")

        def drip(self, size: int) -> None:
            """A slow server: a byte at a time, each read well inside any read timeout."""
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                for _ in range(size):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def serve_file(self, rel: str, ctype: str | None) -> None:
            path = (served.root / rel).resolve()
            if not path.is_file() or served.root.resolve() not in path.parents:
                self.send_body(404, b"<html><body>not found</body></html>", "text/html")
                return
            self.send_body(200, path.read_bytes(), ctype)

    return Handler


@contextmanager
def running(server: ThreadingHTTPServer) -> Iterator[str]:
    """Serve in a background thread; yields the base URL, shuts down afterwards."""
    host, port = server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextmanager
def serve(root: Path) -> Iterator[Served]:
    served = Served(root=root)
    with running(ThreadingHTTPServer(("127.0.0.1", 0), make_handler(served))) as base:
        served.base = base
        yield served
