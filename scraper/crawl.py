"""The scheduled crawl (not built yet)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    print("error: the crawl command is not available yet", file=sys.stderr)
    return 2
