"""The layout's promise, read from the source: `scraper` imports `extract`, never the
reverse, and inside each package the subpackages import only their own layer and the
layers below it. A new module must be placed in a layer (LAYERS) before it can pass."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

# Lowest first. A module may import its own layer and anything listed before it.
LAYERS: dict[str, tuple[tuple[str, ...], ...]] = {
    "extract": (
        ("extract.records", "extract.errors"),
        ("extract.clean", "extract.nlp"),
        ("extract",),  # the package's own __init__: the library's public face
    ),
    "scraper": (
        ("scraper", "scraper.core"),  # the package's __init__ holds only its version
        ("scraper.sites",),
        ("scraper.fetch", "scraper.output"),
        ("scraper.app", "scraper.api", "scraper.__main__"),
    ),
}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    return imports_of(path.read_text(encoding="utf-8"), dotted(path),
                      path.name == "__init__.py")


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` imports (absolute names; relative imports resolved)."""
    tree = ast.parse(source)
    here = module.split(".")
    if not is_package:
        here = here[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[:len(here) - node.level + 1]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def layer_of(package: str, module: str) -> int | None:
    """The index of the most specific layer that holds `module`."""
    best: tuple[int, int] | None = None
    for index, members in enumerate(LAYERS[package]):
        for member in members:
            if module == member or module.startswith(member + "."):
                if best is None or len(member) > best[1]:
                    best = (index, len(member))
    return None if best is None else best[0]


@pytest.mark.parametrize("path", modules("extract"), ids=dotted)
def test_the_library_never_imports_the_application(path: Path) -> None:
    wrong = sorted(name for name in imports(path) if name.split(".")[0] == "scraper")
    assert not wrong, f"{dotted(path)} imports {wrong}: extract/ must not know scraper/"


@pytest.mark.parametrize("path", modules("extract") + modules("scraper"), ids=dotted)
def test_imports_point_down(path: Path) -> None:
    package = dotted(path).split(".")[0]
    own = layer_of(package, dotted(path))
    assert own is not None, f"{dotted(path)} is in no layer: add it to LAYERS"
    upward = []
    for name in imports(path):
        if name.split(".")[0] != package:
            continue
        theirs = layer_of(package, name)
        if theirs is not None and theirs > own:
            upward.append(name)
    assert not upward, f"{dotted(path)} (layer {own}) imports upward: {sorted(upward)}"


def test_the_checker_sees_upward_and_relative_imports() -> None:
    """The tests above can fail: an import from the lowest layer up to the app is seen,
    written absolute or relative."""
    for source in ("from scraper.app.run import execute\n", "from ..app import run\n",
                   "import scraper.app.cli\n"):
        names = imports_of(source, "scraper.core.probe")
        assert layer_of("scraper", "scraper.core.probe") == 0
        assert any(layer_of("scraper", name) == 3 for name in names), (source, names)
    assert "scraper.fetch" in imports_of("from scraper.fetch import documents\n",
                                         "extract.clean.probe")
