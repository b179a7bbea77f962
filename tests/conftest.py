from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.crawlsite import Site, serve_site
from tests.server import Served, serve

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PAGES = FIXTURES / "pages"


def expected_pages() -> list[Path]:
    return sorted(PAGES.glob("*/*.expected.json"))


def load_expected(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def html_of(expected: Path) -> Path:
    return expected.with_name(expected.name.removesuffix(".expected.json") + ".html")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `python -m scraper ARGS` as a user would, in a subprocess."""
    # A fixed width so that --help wraps the same everywhere (the README quotes it).
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "scraper", *args], cwd=cwd or ROOT,
                          env=full_env, capture_output=True, text=True, timeout=600)
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="session")
def http_server() -> Iterator[Served]:
    with serve(FIXTURES) as served:
        yield served


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def site() -> Iterator[Site]:
    """A small CnEVPost-shaped site on 127.0.0.1 (tests/crawlsite.py)."""
    with serve_site("127.0.0.1") as served:
        yield served
