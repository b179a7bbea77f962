"""Rule files: a small language for the rules, and how a component keeps them.

The language (`patterns/README.md` has the details): a rule file is JSON (JSON lines for
the gazetteer) whose objects follow a schema, checked on load: an unknown key, a missing
required key or a value of the wrong type is a `PipelineError` naming the file, the object
(the rule) and the key. A regex may be a list of alternatives, joined as `(?:a|b)`, and may
name pieces of the file's top-level `"fragments"` as `{name}` (a fragment may name others).
Fragments are expanded when the file is loaded: matching sees plain regexes.

`RuleFiles` is what every one of our components shares: `initialize()` reads the files
packaged with the library (or those of a folder the config names), `to_disk`/`from_disk`
and `to_bytes`/`from_bytes` carry the files' text, so that a saved pipeline runs on the
rules it was saved with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Generic, Literal, Self, TypeVar

from extract.errors import PipelineError

PACKAGE = "extract.nlp"
FOLDER = "patterns"


@dataclass(frozen=True)
class RuleText:
    """One rule file's text, and where it came from (for messages)."""

    label: str
    text: str


def packaged(name: str) -> RuleText:
    """A rule file as installed with the library."""
    file = resources.files(PACKAGE).joinpath(FOLDER, name)
    return RuleText(f"{FOLDER}/{name}", file.read_text(encoding="utf-8"))


def read(path: Path) -> RuleText:
    try:
        return RuleText(str(path), path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PipelineError(f"{path}: cannot read the rules file ({exc.strerror})") from None


# ---------------------------------------------------------------- the language

Kind = Literal["regex", "text", "flag", "integer", "texts", "map", "object", "objects"]
# `{name}`: a quantifier ("{2}", "{0,3}") never starts with a letter, so the two never meet.
REFERENCE = re.compile(r"\{([A-Za-z_]\w*)\}")


@dataclass(frozen=True)
class Field:
    """What one key of an object may hold."""

    kind: Kind
    required: bool = False  # a required list must not be empty either
    choices: frozenset[str] = frozenset()  # the values a text (or a map's values) may take
    keys: frozenset[str] = frozenset()  # the keys a map may have
    schema: Mapping[str, Field] = field(default_factory=dict)  # of an object, or of objects
    item: str = ""  # what an object (one of objects) is called in messages
    name_key: str = ""  # the key that names one of objects in messages (unique)
    nullable: bool = False


Schema = Mapping[str, Field]
# A named regex; matched case-insensitively unless its object says "case_sensitive": true.
REGEX_ENTRY: Schema = {"regex": Field("regex", required=True), "case_sensitive": Field("flag")}


@dataclass(frozen=True)
class Where:
    """A place in a rule file, for messages: the file, then the objects and key inside."""

    source: str
    path: tuple[str, ...] = ()

    def at(self, part: str) -> Where:
        return Where(self.source, (*self.path, part)) if part else self

    def error(self, problem: str) -> PipelineError:
        return PipelineError(": ".join([self.source, ", ".join(self.path), problem]
                                       if self.path else [self.source, problem]))


def parse(source: RuleText) -> object:
    """JSON, with a key given twice in one object an error (not the last one silently)."""
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise PipelineError(f"{source.label}: key {twice[0]!r} given twice")
        return dict(pairs)

    try:
        result: object = json.loads(source.text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise PipelineError(f"{source.label}: not JSON ({exc})") from None
    return result


def compose(value: object, where: Where) -> str:
    """A regex written as a string, or as a (nested) list of alternatives."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, list) and value:
        return "(?:" + "|".join(compose(item, where) for item in value) + ")"
    raise where.error("a regex must be a non-empty string or a non-empty list of them")


class Fragments:
    """A file's named regex pieces, each expanded once."""

    def __init__(self, raw: object, where: Where) -> None:
        if not isinstance(raw, dict):
            raise where.error("fragments must be an object of named regexes")
        self.raw: dict[str, str] = {}
        for name, value in raw.items():
            if not REFERENCE.fullmatch(f"{{{name}}}"):
                raise where.error(f"a fragment's name must be a word, not {name!r}")
            if value in ("", []):
                raise where.error(f"fragment {name!r} is empty")
            self.raw[name] = compose(value, where.at(f"fragment {name!r}"))
        self.expanded: dict[str, str] = {}
        for name in self.raw:  # an unused fragment must be sound too
            self.fragment(name, where.at(f"fragment {name!r}"), ())

    def expand(self, regex: str, where: Where) -> str:
        return self.substitute(regex, where, ())

    def substitute(self, regex: str, where: Where, within: tuple[str, ...]) -> str:
        return REFERENCE.sub(lambda m: self.fragment(m.group(1), where, within), regex)

    def fragment(self, name: str, where: Where, within: tuple[str, ...]) -> str:
        if name not in self.raw:
            raise where.error(f"unknown fragment {{{name}}}")
        if name in within:
            raise where.error(f"fragment {{{name}}} contains itself")
        if name not in self.expanded:
            self.expanded[name] = self.substitute(self.raw[name], where, (*within, name))
        return self.expanded[name]


NO_FRAGMENTS = Fragments({}, Where("-"))


class Entry:
    """One object of a rule file, checked against its schema, with typed getters."""

    def __init__(self, raw: object, schema: Schema, where: Where,
                 fragments: Fragments = NO_FRAGMENTS) -> None:
        if not isinstance(raw, dict):
            raise where.error("expected an object")
        unknown = sorted(set(raw) - set(schema))
        if unknown:
            raise where.error(f"unknown key {unknown[0]!r} (known: {', '.join(schema)})")
        missing = [key for key, f in schema.items() if f.required and key not in raw]
        if missing:
            raise where.error(f"missing key {missing[0]!r}")
        self.raw: dict[str, object] = raw
        self.where = where
        self.fragments = fragments
        self.flags = 0 if raw.get("case_sensitive") is True else re.IGNORECASE
        self.regexes: dict[str, re.Pattern[str]] = {}
        self.children: dict[str, tuple[Entry, ...]] = {}
        for key, value in raw.items():
            self.check(key, value, schema[key])

    def check(self, key: str, value: object, spec: Field) -> None:
        where = self.where.at(f"{spec.item} {key!r}" if spec.kind == "object" and spec.item
                              else f"key {key!r}")
        if value is None and spec.nullable:
            return
        if spec.kind == "regex":
            self.regexes[key] = self.compile(value, where)
        elif spec.kind == "object":
            self.children[key] = (Entry(value, spec.schema, where, self.fragments),)
        elif spec.kind == "objects":
            self.children[key] = self.items(value, spec, where)
        elif not VALID[spec.kind](value, spec):
            raise where.error(f"expected {DESCRIBED[spec.kind]}" + "".join(
                f"; {what}: {', '.join(sorted(among))}"
                for what, among in (("keys", spec.keys), ("values", spec.choices)) if among))
        elif spec.required and spec.kind in ("text", "texts", "map") and not value:
            raise where.error("must not be empty")

    def compile(self, value: object, where: Where) -> re.Pattern[str]:
        regex = self.fragments.expand(compose(value, where), where)
        try:
            return re.compile(regex, self.flags)
        except re.error as exc:
            raise where.error(f"bad regex ({exc})") from None

    def items(self, value: object, spec: Field, where: Where) -> tuple[Entry, ...]:
        if not isinstance(value, list) or (spec.required and not value):
            raise where.error("expected a non-empty list of objects" if spec.required
                              else "expected a list of objects")
        entries, names = [], set()
        for i, raw in enumerate(value):
            name = raw.get(spec.name_key) if isinstance(raw, dict) else None
            if not isinstance(name, str):
                name = None
            label = f"{spec.item} {name!r}" if name else f"{spec.item} #{i + 1}"
            if name and name in names:
                raise where.error(f"{label} given twice")
            names.add(name)
            entries.append(Entry(raw, spec.schema, self.where.at(label), self.fragments))
        return tuple(entries)

    def text(self, key: str, default: str = "") -> str:
        value = self.raw.get(key, default)
        return value if isinstance(value, str) else default

    def optional_text(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) else None

    def flag(self, key: str) -> bool:
        return self.raw.get(key) is True

    def integer(self, key: str) -> int:
        value = self.raw.get(key)
        return value if isinstance(value, int) else 0

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw.get(key)
        return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()

    def mapping(self, key: str) -> dict[str, str]:
        value = self.raw.get(key)
        return {k: v for k, v in value.items() if isinstance(v, str)} \
            if isinstance(value, dict) else {}

    def regex(self, key: str) -> re.Pattern[str] | None:
        return self.regexes.get(key)

    def pattern(self, key: str) -> re.Pattern[str]:
        """A required regex."""
        return self.regexes[key]

    def entry(self, key: str) -> Entry:
        return self.children[key][0]

    def entries(self, key: str) -> tuple[Entry, ...]:
        return self.children.get(key, ())


def is_text(value: object, spec: Field) -> bool:
    return isinstance(value, str) and (not spec.choices or value in spec.choices)


def is_map(value: object, spec: Field) -> bool:
    return isinstance(value, dict) and all(
        isinstance(v, str) and (not spec.keys or k in spec.keys)
        and (not spec.choices or v in spec.choices) for k, v in value.items())


VALID: dict[str, Callable[[object, Field], bool]] = {
    "text": is_text,
    "flag": lambda value, _: isinstance(value, bool),
    "integer": lambda value, _: isinstance(value, int) and not isinstance(value, bool),
    "texts": lambda value, _: isinstance(value, list) and all(isinstance(v, str) for v in value),
    "map": is_map,
}
DESCRIBED = {"text": "a string", "flag": "true or false", "integer": "an integer",
             "texts": "a list of strings", "map": "an object of strings"}


def load(source: RuleText, schema: Schema) -> Entry:
    """A JSON rule file, checked, its fragments expanded and its regexes compiled."""
    raw = parse(source)
    where = Where(source.label)
    if not isinstance(raw, dict):
        raise where.error("expected an object")
    fragments = Fragments(raw.pop("fragments", {}), where.at("key 'fragments'"))
    return Entry(raw, schema, where, fragments)


def load_lines(source: RuleText, schema: Schema, item: str, name_key: str) -> list[Entry]:
    """A JSON-lines rule file: one object a line."""
    entries = []
    for number, line in enumerate(source.text.splitlines(), start=1):
        if line.strip():
            raw = parse(RuleText(f"{source.label}:{number}", line))
            name = raw.get(name_key) if isinstance(raw, dict) else None
            label = f"{item} {name!r}" if isinstance(name, str) else item
            entries.append(Entry(raw, schema, Where(f"{source.label}:{number}", (label,))))
    return entries


# ---------------------------------------------------------------- components' rule files


T = TypeVar("T")


class RuleFiles(Generic[T]):
    """A pipeline component whose state is a few rule files, compiled into a `T`."""

    files: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name
        self.texts: dict[str, RuleText] = {}
        self._compiled: T | None = None

    def compile(self, texts: Mapping[str, RuleText]) -> T:
        raise NotImplementedError

    @property
    def rules(self) -> T:
        if self._compiled is None:
            raise PipelineError(f"{self.name}: no rules loaded (call initialize(), or load a "
                                "saved pipeline)")
        return self._compiled

    def use(self, texts: Mapping[str, RuleText]) -> None:
        """Compile first, so that a bad file leaves the rules the component had."""
        self._compiled = self.compile(texts)
        self.texts = dict(texts)

    def initialize(self, get_examples: Callable[[], Iterable[object]] | None = None, *,
                   nlp: object = None, patterns: str | None = None) -> None:
        """Read the rules: the packaged files, or those of the folder `patterns`."""
        folder = Path(patterns) if patterns else None
        self.use({name: read(folder / name) if folder else packaged(name)
                  for name in self.files})

    def to_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> None:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in self.texts.items():
            (folder / name).write_text(text.text, encoding="utf-8")

    def from_disk(self, path: str | Path, *, exclude: Iterable[str] = ()) -> Self:
        self.use({name: read(Path(path) / name) for name in self.files})
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return json.dumps({name: text.text for name, text in self.texts.items()}).encode()

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> Self:
        saved = json.loads(data)
        if not isinstance(saved, dict):
            saved = {}
        missing = [name for name in self.files if not isinstance(saved.get(name), str)]
        if missing:
            raise PipelineError(f"{self.name}: the saved bytes lack {', '.join(missing)}")
        self.use({name: RuleText(f"{self.name} bytes: {name}", saved[name])
                  for name in self.files})
        return self
