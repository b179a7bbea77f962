from __future__ import annotations

from pathlib import Path

import pytest

from scraper.core.errors import UsageError
from scraper.core.settings import Settings, load_settings


def test_defaults() -> None:
    s = load_settings({}, env={})
    assert s == Settings()
    assert s.model == "en_core_web_sm" and s.out_dir == Path("output")


def test_precedence_file_env_flags(tmp_path: Path) -> None:
    config = tmp_path / "scraper.toml"
    config.write_text('model = "from_file"\nmax_bytes = 123\nread_timeout = 5\n')
    env = {"SCRAPER_MODEL": "from_env", "SCRAPER_MAX_BYTES": "456"}
    s = load_settings({}, env=env, config_path=config)
    assert (s.model, s.max_bytes, s.read_timeout) == ("from_env", 456, 5.0)
    s = load_settings({"model": "from_flag", "max_bytes": None}, env=env, config_path=config)
    assert (s.model, s.max_bytes) == ("from_flag", 456)


def test_settings_are_immutable() -> None:
    with pytest.raises(AttributeError):
        Settings().model = "x"  # type: ignore[misc]


def test_unknown_key_and_bad_value_are_usage_errors(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('modle = "typo"\n')
    with pytest.raises(UsageError, match="modle"):
        load_settings({}, env={}, config_path=config)
    with pytest.raises(UsageError, match="max_bytes"):
        load_settings({}, env={"SCRAPER_MAX_BYTES": "lots"})


def test_the_formats_the_settings_accept_are_the_ones_written() -> None:
    from scraper.core.settings import FORMATS
    from scraper.output.formats import FORMATS as WRITERS

    assert FORMATS == ("csv", *WRITERS)


@pytest.mark.parametrize(("name", "value"), [
    ("concurrency", 0), ("crawl_delay", -5), ("format", "xslx"), ("batch_size", 0),
    ("max_pages", 0), ("retries", -1), ("deadline", 0),
])
def test_a_value_out_of_range_is_refused_by_name(name: str, value: object) -> None:
    with pytest.raises(UsageError, match=f"setting {name}"):
        load_settings({name: value}, env={})
