#!/usr/bin/env python3
"""Split the real-sourced gold passages into train, dev and test, by source page.

    python scripts/split-gold.py fixtures/gold/real/part-*.jsonl
    python scripts/split-gold.py --add test2 fixtures/gold/real/batch2/part-*.jsonl
    python scripts/split-gold.py --add test3 fixtures/gold/real/batch3/part-*.jsonl
    python scripts/split-gold.py --blind test4 fixtures/gold/real/batch4/part-*.jsonl

Each passage goes to a split by a hash of its `source_url`, so passages restated from one
page never sit in two splits, and the split of a passage never changes when others are
added. Shares: test 25%, dev 20%, train 55%. Writes fixtures/gold/real/{train,dev,test}.jsonl
sorted by id. With `--add NAME`, the passages are added to train and dev as they are, and
those of the test share go to a new blind split `NAME.jsonl`: a test split measured once
is never grown, so that its figure keeps its meaning. With `--blind NAME`, every passage of
the files goes to the new blind split `NAME.jsonl` (written pages no other split has used):
a larger test split once train and dev are large enough.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "gold" / "real"
SHARES = (("test", 25), ("dev", 20), ("train", 55))


def split_of(source_url: str) -> str:
    bucket = int(hashlib.sha256(source_url.encode("utf-8")).hexdigest(), 16) % 100
    for name, share in SHARES:
        if bucket < share:
            return name
        bucket -= share
    raise AssertionError("shares add up to 100")


def main(paths: list[str]) -> None:
    add = None
    if paths[:1] == ["--blind"]:
        return blind(paths[1], paths[2:])
    if paths[:1] == ["--add"]:
        add, paths = paths[1], paths[2:]
    splits: dict[str, list[dict]] = {name: [] for name, _ in SHARES}
    if add is not None:
        for name, file in (("train", "train"), ("dev", "dev"), ("test", add)):
            path = OUT / f"{file}.jsonl"
            old = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
            splits[name] = [json.loads(line) for line in old if line.strip()]
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.strip():
                item = json.loads(line)
                splits[split_of(item["source_url"])].append(item)
    for name, items in splits.items():
        seen = set()
        items = [i for i in items if not (i["id"] in seen or seen.add(i["id"]))]
        items.sort(key=lambda item: item["id"])
        text = "".join(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        target = add if add is not None and name == "test" else name
        (OUT / f"{target}.jsonl").write_text(text, encoding="utf-8")
        print(f"{name}: {len(items)} passages")


def blind(name: str, paths: list[str]) -> None:
    path = OUT / f"{name}.jsonl"
    if path.exists():
        raise SystemExit(f"{path} exists: a blind split is written once")
    items = [json.loads(line) for p in paths
             for line in Path(p).read_text(encoding="utf-8").splitlines() if line.strip()]
    items.sort(key=lambda item: item["id"])
    path.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                    encoding="utf-8")
    print(f"{name}: {len(items)} passages")


if __name__ == "__main__":
    main(sys.argv[1:])
