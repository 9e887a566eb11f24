"""Searching for a secret in everything a run leaves behind (the secrets audits of ``tests/reliability`` and
``tests/e2e``), written so that an audit over nothing cannot pass.

Every search reports where it looked (files, tables and their row counts) next to what it found: an audit
asserts both that nothing leaked and that the places it promises to search really held something.
"""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path


def forbidden(account: str, key: str) -> list[bytes]:
    """The key, the Basic-auth token made from it, and the key in UTF-16 (as Windows tooling writes it)."""
    token = base64.b64encode(f"{account}:{key}".encode()).decode()
    return [key.encode(), token.encode(), key.encode("utf-16-le")]


def leaks(blob: bytes, needles: list[bytes]) -> list[str]:
    return [n.decode("latin-1") for n in needles if n in blob]


@dataclass
class Scan:
    """What one search found (place -> needles seen) and where it looked (place -> size)."""

    found: dict[str, list[str]] = field(default_factory=dict)
    searched: dict[str, int] = field(default_factory=dict)

    def add(self, place: str, blob: bytes, needles: list[bytes], size: int | None = None) -> None:
        self.searched[place] = len(blob) if size is None else size
        hits = leaks(blob, needles)
        if hits:
            self.found[place] = hits

    def merge(self, other: Scan) -> Scan:
        self.found.update(other.found)
        self.searched.update(other.searched)
        return self


def scan_files(paths: Iterable[Path], needles: list[bytes], root: Path | None = None) -> Scan:
    """Byte for byte, every file given."""
    scan = Scan()
    for path in sorted(paths):
        if path.is_file():
            place = str(path.relative_to(root)) if root is not None else str(path)
            scan.add(place, path.read_bytes(), needles)
    return scan


def scan_tree(root: Path, needles: list[bytes]) -> Scan:
    return scan_files(root.rglob("*"), needles, root)


def scan_sqlite(db: Path, tables: Iterable[str], needles: list[bytes]) -> Scan:
    """Every row of ``tables`` as text; a missing table is an error, not a skip (nothing is swallowed)."""
    scan = Scan()
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as con:
        for table in tables:
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            blob = "\n".join(repr(tuple(row)) for row in rows).encode()
            scan.add(f"table {table}", blob, needles, size=len(rows))
    return scan
