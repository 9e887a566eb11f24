"""The machine-wide store: one SQLite file that every process of the machine opens.

SQLite in WAL mode, every update inside ``BEGIN IMMEDIATE`` (the database's write lock, taken before the
state is read, so two processes can never both take the last slot of a minute). Times come from this
machine's clock, which all its processes share. The file holds call times, blocks, day counts and short
lived listings (integration and CNAME Ids), never a key or a secret.

The file must be on a local disk: SQLite's locking is not reliable on network file systems, so a file on
one (NFS, SMB, sshfs...) is refused with a warning naming the path and the fix, as a read-only or corrupted
file is (the budget then steps down, see :mod:`.account`). Across machines,
use the Redis store (:mod:`.redis_server`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from airflow_provider_oktopost._core import clock
from airflow_provider_oktopost._core.budget.rules import ADDITIONS_KEPT, Grant, day_of, merged_listing, plan
from airflow_provider_oktopost._core.budget.snapshot import AccountState, checked_notes

FILE_NAME = "budget.sqlite3"
#: How long a process waits for another one's write lock before the store counts as unreachable.
BUSY_TIMEOUT = 10.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS slots (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS slots_key_at ON slots (key, at);
CREATE TABLE IF NOT EXISTS blocks (key TEXT PRIMARY KEY, until REAL NOT NULL);
CREATE TABLE IF NOT EXISTS days (key TEXT NOT NULL, day INTEGER NOT NULL, used INTEGER NOT NULL,
                                 PRIMARY KEY (key, day));
CREATE TABLE IF NOT EXISTS listings (key TEXT PRIMARY KEY, taken REAL NOT NULL, items TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS slot_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS listing_additions (key TEXT NOT NULL, id TEXT NOT NULL, at REAL NOT NULL,
                                              entry TEXT NOT NULL, PRIMARY KEY (key, id));
CREATE TABLE IF NOT EXISTS listing_forgets (prefix TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TRIGGER IF NOT EXISTS slot_added AFTER INSERT ON slots BEGIN
    INSERT INTO slot_counts (key, n) VALUES (new.key, 1) ON CONFLICT (key) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS slot_removed AFTER DELETE ON slots BEGIN
    UPDATE slot_counts SET n = n - 1 WHERE key = old.key;
END;
"""
#: ``slot_counts`` holds how many slots each account has in ``slots``, kept by the two triggers (so by every
#: process that writes the file, whatever its version). It is recounted whenever a process opens the file,
#: in the same transaction as the schema, so a file written before the triggers existed is counted right.
_RECOUNT = """
DELETE FROM slot_counts;
INSERT INTO slot_counts (key, n) SELECT key, count(*) FROM slots GROUP BY key;
"""

#: The slot that decides the next send time (the ``limit``-th most recent, when there are that many) and the
#: block, in one statement. The count says whether there are ``limit`` slots without reading them, and the
#: index then walks back ``limit`` entries at most: the cost does not grow with the calls in the window.
_LIMITING_SLOT_AND_BLOCK = """
SELECT CASE WHEN (SELECT n FROM slot_counts WHERE key = ?1) >= ?2 + 1
            THEN (SELECT at FROM slots WHERE key = ?1 ORDER BY at DESC LIMIT 1 OFFSET ?2) END,
       (SELECT until FROM blocks WHERE key = ?1)
"""


#: File systems whose locks SQLite cannot rely on (``/proc/self/mounts`` names).
NETWORK_FILE_SYSTEMS = frozenset(
    {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "lustre"}
)


def file_system_of(path: Path, mounts: str | None = None) -> str:
    """The type of the file system holding ``path`` (from ``/proc/self/mounts``; ``""`` when unknown)."""
    if mounts is None:
        try:
            mounts = Path("/proc/self/mounts").read_text()
        except OSError:
            return ""
    best, kind = "", ""
    target = str(path.resolve())
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


class NetworkFileSystemError(OSError):
    """The local store's directory is on a network file system, where SQLite's locks do not hold."""


class LocalDiskStore:
    """Budget state in ``<directory>/budget.sqlite3``, shared by every process that opens the same file.

    One connection per process (re-opened after a fork), used under a lock by the process's threads.
    """

    shared_across_processes = True
    #: A write may wait for another process's lock: the async driver runs it in a thread.
    blocking = True

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.path = Path(directory) / FILE_NAME
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"LocalDiskStore({str(self.path)!r})"

    def fix(self) -> str:
        """What the user does when the file cannot be used."""
        return (
            f"make {str(self.path.parent)!r} a directory on a local disk (not NFS) that every Airflow "
            f"process of the machine can write, or delete {str(self.path)!r} if it is corrupted (it "
            "holds only the recent calls), or point [oktopost] budget_dir elsewhere; across machines "
            "set [oktopost] budget_store to a redis:// URL"
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            kind = file_system_of(self.path.parent)
            if kind in NETWORK_FILE_SYSTEMS:
                raise NetworkFileSystemError(
                    f"{str(self.path.parent)!r} is on a {kind} file system, where SQLite's locks do not hold"
                )
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            try:
                conn.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}{_RECOUNT}COMMIT;")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                conn.close()
                raise
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def reserve(self, key: str, *, limit: int, window: float, day_limit: int, max_wait: float) -> Grant:
        """Take the next slot if it comes within ``max_wait`` seconds (see :func:`.rules.plan`)."""
        with self._write() as db:
            now = clock.wall()
            db.execute("DELETE FROM slots WHERE key = ? AND at <= ?", (key, now - window))
            # One row: the limit-th most recent slot, if any, and the block (see _LIMITING_SLOT_AND_BLOCK).
            limiting, blocked = db.execute(_LIMITING_SLOT_AND_BLOCK, (key, limit - 1)).fetchone()
            blocked_until = float(blocked) if blocked is not None else 0.0
            days = {
                int(d): int(n)
                for d, n in db.execute(
                    "SELECT day, used FROM days WHERE key = ? AND day >= ?", (key, day_of(now))
                )
            }
            at = plan(
                None if limiting is None else float(limiting),
                now,
                blocked_until,
                window=window,
                day_limit=day_limit,
                day_used=days,
            )
            day = day_of(at)
            used = days.get(day, 0)
            blocked_for = max(0.0, blocked_until - now)
            if at - now > max_wait:
                return Grant(at - now, False, used, blocked_for)
            db.execute("INSERT INTO slots (key, at) VALUES (?, ?)", (key, at))
            db.execute(
                "INSERT INTO days (key, day, used) VALUES (?, ?, 1) "
                "ON CONFLICT (key, day) DO UPDATE SET used = used + 1",
                (key, day),
            )
            if used == 0:  # the day's first call: the place to drop days no reservation reads any more
                db.execute("DELETE FROM days WHERE key = ? AND day < ?", (key, day_of(now) - 1))
            return Grant(at - now, True, used + 1, blocked_for)

    def block(self, key: str, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` from now (a 429), for every process."""
        with self._write() as db:
            until = clock.wall() + seconds
            db.execute(
                "INSERT INTO blocks (key, until) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET until = max(until, excluded.until)",
                (key, until),
            )

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing (integration Id -> CNAME Id) no older than ``max_age`` seconds, or None."""
        with self._write() as db:
            row = db.execute("SELECT taken, items FROM listings WHERE key = ?", (key,)).fetchone()
        if row is None or float(row[0]) < clock.wall() - max_age:
            return None
        items = json.loads(row[1])
        return {str(k): str(v) for k, v in items.items()} if isinstance(items, dict) else None

    def now(self) -> float:
        """This machine's clock."""
        return clock.wall()

    def put_listing(self, key: str, items: dict[str, str], began: float) -> None:
        """Share a listing whose read began at ``began`` (see :func:`.rules.merged_listing`)."""
        with self._write() as db:
            row = db.execute("SELECT taken FROM listings WHERE key = ?", (key,)).fetchone()
            forgotten = db.execute(
                "SELECT max(at) FROM listing_forgets WHERE substr(?1, 1, length(prefix)) = prefix", (key,)
            ).fetchone()[0]
            additions = {
                str(i): (float(at), str(entry))
                for i, at, entry in db.execute(
                    "SELECT id, at, entry FROM listing_additions WHERE key = ? AND at >= ?",
                    (key, clock.wall() - ADDITIONS_KEPT),
                )
            }
            merged = merged_listing(
                items,
                began,
                taken=None if row is None else float(row[0]),
                forgotten=0.0 if forgotten is None else float(forgotten),
                additions=additions,
            )
            if merged is not None:
                db.execute(
                    "INSERT INTO listings (key, taken, items) VALUES (?, ?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET taken = excluded.taken, items = excluded.items",
                    (key, began, json.dumps(merged)),
                )

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add an integration just created to the listing, and keep it for the reads running now."""
        with self._write() as db:
            now = clock.wall()
            db.execute(
                "INSERT INTO listing_additions (key, id, at, entry) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (key, id) DO UPDATE SET at = excluded.at, entry = excluded.entry",
                (key, integration_id, now, cname_id),
            )
            db.execute("DELETE FROM listing_additions WHERE at < ?", (now - ADDITIONS_KEPT,))
            row = db.execute("SELECT items FROM listings WHERE key = ?", (key,)).fetchone()
            if row is None:
                return
            items = json.loads(row[0])
            items[integration_id] = cname_id
            db.execute("UPDATE listings SET items = ? WHERE key = ?", (json.dumps(items), key))

    def forget_listings(self, prefix: str) -> None:
        """Drop every shared listing whose key starts with ``prefix`` (after a delete or a move)."""
        with self._write() as db:
            db.execute("DELETE FROM listings WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
            db.execute("DELETE FROM listing_additions WHERE substr(key, 1, ?) = ?", (len(prefix), prefix))
            db.execute(
                "INSERT INTO listing_forgets (prefix, at) VALUES (?, ?) "
                "ON CONFLICT (prefix) DO UPDATE SET at = excluded.at",
                (prefix, clock.wall()),
            )

    # -- what operators see (the Oktopost page, metrics): see budget.snapshot --------------------------

    def note_account(self, key: str, fields: dict[str, str]) -> None:
        """Add ``key`` to the accounts this store knows and set non-secret notes about it."""
        fields = checked_notes(fields)
        with self._write() as db:
            db.execute(_NOTES_TABLE)
            db.executemany(
                "INSERT INTO account_notes (key, field, value) VALUES (?, ?, ?) "
                "ON CONFLICT (key, field) DO UPDATE SET value = excluded.value",
                [(key, name, value) for name, value in fields.items()],
            )

    def account_states(self, window: float, keys: list[str] | None = None) -> list[AccountState]:
        """Every known account (or those of ``keys``): its calls, block and notes, read-only."""
        if not self.path.exists():
            return []  # no process used this store yet: do not create it just to look
        with self._write() as db:
            db.execute(_NOTES_TABLE)
            now = clock.wall()
            notes: dict[str, dict[str, str]] = {}
            for key, name, value in db.execute("SELECT key, field, value FROM account_notes ORDER BY key"):
                if keys is None or key in keys:
                    notes.setdefault(str(key), {})[str(name)] = str(value)
            states = []
            for key, fields in notes.items():
                (minute,) = db.execute(
                    "SELECT count(*) FROM slots WHERE key = ? AND at > ?", (key, now - window)
                ).fetchone()
                today = db.execute(
                    "SELECT used FROM days WHERE key = ? AND day = ?", (key, day_of(now))
                ).fetchone()
                until = db.execute("SELECT until FROM blocks WHERE key = ?", (key,)).fetchone()
                states.append(
                    AccountState(
                        key=key,
                        now=now,
                        minute=int(minute),
                        today=int(today[0]) if today else 0,
                        blocked_until=float(until[0]) if until else 0.0,
                        notes=fields,
                    )
                )
            return states


#: The index of known accounts and their notes (created by the first process that writes a note).
_NOTES_TABLE = (
    "CREATE TABLE IF NOT EXISTS account_notes (key TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL, "
    "PRIMARY KEY (key, field))"
)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on error), under the process's lock."""

    def __init__(self, store: LocalDiskStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            conn = self.store._connection()
            conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            conn = self.store._connection()
            conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self.store._lock.release()
