"""The deployment-wide store: a Redis-compatible server that every machine of the deployment reaches.

Each reservation is one Lua script, so it is atomic on the server, and it reads the time from the server
(``TIME``), so machines whose clocks differ still agree on every window, block and UTC day. The script is
:func:`.rules.plan` written in Lua; keep the two in step. Keys (one hash tag per account):
``oktopost:{<account>}:slots`` (sorted set of send times), ``...:blocked`` (end of a block), ``...:days``
(hash: UTC day -> calls), ``...:listings`` (hash: the shared listings, see :func:`.rules.merged_listing`).
Every key starts with ``oktopost:``, so the store can share the CeleryExecutor's broker without touching a
key of Celery's. No path a task takes scans the keyspace: an account's listings are one key.

Redis Cluster is refused at the first connection with a clear error (:class:`RedisClusterRefusedError`):
the budget needs one server's ``TIME`` and atomic scripts, so use a standalone server (or Sentinel-managed
primary) for it. The URL's password never appears in the store's ``repr`` or in its errors.

Needs the optional ``redis`` package (``pip install 'airflow-provider-oktopost[redis]'``).
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_oktopost._core.budget.rules import ADDITIONS_KEPT, DAY, Grant
from airflow_provider_oktopost._core.budget.settings import redact, scrub
from airflow_provider_oktopost._core.budget.snapshot import INDEX_NAME, AccountState, checked_notes
from airflow_provider_oktopost.exceptions import OktopostConfigError

if TYPE_CHECKING:
    import redis

#: Seconds to wait for the server before the store counts as unreachable.
SOCKET_TIMEOUT = 2.0

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local day_limit, max_wait, day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
local at = now
if blocked > at then at = blocked end
local n = redis.call('ZCARD', KEYS[1])
if n >= limit then
  local s = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  local free = tonumber(s[2]) + window
  if free > at then at = free end
end
local d = math.floor(at / day)
while tonumber(redis.call('HGET', KEYS[3], tostring(d)) or '0') >= day_limit do
  d = d + 1
  at = d * day
end
local used = tonumber(redis.call('HGET', KEYS[3], tostring(d)) or '0')
local blocked_for = math.max(0, blocked - now)
local wait = at - now
if wait > max_wait then
  return {tostring(wait), 0, used, tostring(blocked_for)}
end
redis.call('ZADD', KEYS[1], at, ARGV[5])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + window) * 1000) + 1000)
used = redis.call('HINCRBY', KEYS[3], tostring(d), 1)
redis.call('HDEL', KEYS[3], tostring(d - 2))
redis.call('EXPIRE', KEYS[3], 3 * day)
return {tostring(wait), 1, used, tostring(blocked_for)}
"""

_BLOCK = """
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[1])
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > old then
  redis.call('SET', KEYS[1], tostring(until_), 'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return 1
"""

#: Share a listing (KEYS[1] the account's listings hash; ARGV: type, began, items JSON, seconds kept).
#: :func:`.rules.merged_listing` in Lua.
_PUT_LISTING = """
local found = redis.call('HGET', KEYS[1], ARGV[1])
local began = tonumber(ARGV[2])
if found and tonumber(cjson.decode(found)['taken']) > began then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'forgotten') or '0') >= began then return 0 end
local items = cjson.decode(ARGV[3])
local added = redis.call('HGET', KEYS[1], 'added:' .. ARGV[1])
if added then
  for id, pair in pairs(cjson.decode(added)) do items[id] = pair[2] end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode({taken = ARGV[2], items = items}))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

#: Add one connect (KEYS[1] the listings hash; ARGV: type, integration Id, entry, seconds additions kept).
_ADD_TO_LISTING = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local field = 'added:' .. ARGV[1]
local added = {}
local raw = redis.call('HGET', KEYS[1], field)
if raw then
  for id, pair in pairs(cjson.decode(raw)) do
    if tonumber(pair[1]) > now - tonumber(ARGV[4]) then added[id] = pair end
  end
end
added[ARGV[2]] = {string.format('%.6f', now), ARGV[3]}
redis.call('HSET', KEYS[1], field, cjson.encode(added))
local found = redis.call('HGET', KEYS[1], ARGV[1])
if found then
  local listing = cjson.decode(found)
  listing['items'][ARGV[2]] = ARGV[3]
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(listing))
end
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], 86400) end
return 1
"""

#: Drop an account's listings (KEYS[1] its listings hash), and date the drop for reads still running.
_FORGET_LISTINGS = """
local t = redis.call('TIME')
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'forgotten', string.format('%.6f', tonumber(t[1]) + tonumber(t[2]) / 1000000))
redis.call('EXPIRE', KEYS[1], 86400)
return 1
"""


class RedisUnreachableError(ConnectionError):
    """The first connection to the server failed (the message has any password masked)."""


class RedisClusterRefusedError(OktopostConfigError):
    """``budget_store`` names a Redis Cluster, which the budget does not support."""


class RedisStore:
    """Budget state on a Redis-compatible server at ``url`` (``redis://host:port/db``, ``rediss://``...)."""

    shared_across_processes = True
    #: Every answer is a network round trip: the async driver runs it in a thread.
    blocking = True

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: redis.Redis | None = None
        self._scripts: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisStore({redact(self.url)!r})"  # never show a password that may be in the URL

    def fix(self) -> str:
        """What the user does when the server cannot be reached."""
        return (
            f"check that the Redis server {redact(self.url)} is up and reachable from every Airflow "
            "component, or set [oktopost] budget_store"
        )

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                try:
                    import redis as redis_lib

                    client = redis_lib.Redis.from_url(
                        self.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
                    )
                    info: dict[str, Any] = client.info("cluster")  # type: ignore[assignment]
                    cluster = info.get("cluster_enabled")
                except Exception as error:  # the URL may be in the message: never let it out as it is
                    raise RedisUnreachableError(
                        f"{type(error).__name__}: {scrub(str(error), self.url)}"
                    ) from None
                if cluster:
                    client.close()
                    raise RedisClusterRefusedError(
                        f"budget_store {redact(self.url)} is a Redis Cluster node; the Oktopost budget "
                        "needs a standalone Redis (one server's clock and atomic scripts): point "
                        "[oktopost] budget_store at one"
                    )
                self._client = client
                self._scripts = {
                    "reserve": client.register_script(_RESERVE),
                    "block": client.register_script(_BLOCK),
                    "put_listing": client.register_script(_PUT_LISTING),
                    "add_to_listing": client.register_script(_ADD_TO_LISTING),
                    "forget_listings": client.register_script(_FORGET_LISTINGS),
                }
            return self._client

    @staticmethod
    def _keys(key: str) -> tuple[str, str, str]:
        base = f"oktopost:{{{key}}}"
        return f"{base}:slots", f"{base}:blocked", f"{base}:days"

    def reserve(self, key: str, *, limit: int, window: float, day_limit: int, max_wait: float) -> Grant:
        """Take the next slot if it comes within ``max_wait`` seconds; the server's clock decides."""
        self._redis()
        token = secrets.token_hex(8)
        wait, granted, used, blocked_for = self._scripts["reserve"](
            keys=list(self._keys(key)),
            args=[limit, repr(float(window)), day_limit, repr(float(max_wait)), token, repr(DAY)],
        )
        return Grant(float(wait), bool(int(granted)), int(used), float(blocked_for))

    def block(self, key: str, seconds: float) -> None:
        """Record that the account is refused for ``seconds`` from now (server time), for everyone."""
        self._redis()
        self._scripts["block"](keys=[self._keys(key)[1]], args=[repr(float(seconds))])

    @staticmethod
    def _listing_key(key: str) -> tuple[str, str]:
        """``(hash, field)`` of a listing key ``<account>:<type>``: one hash per account, a field per type."""
        account, _, type_ = key.partition(":")
        return f"oktopost:{{{account}}}:listings", type_

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing no older than ``max_age`` seconds (server time), or None."""
        name, field = self._listing_key(key)
        raw: bytes | None = self._redis().hget(name, field)  # type: ignore[assignment]
        if raw is None:
            return None
        taken_and_items = json.loads(raw)
        age = self.now() - float(taken_and_items["taken"])
        if age > max_age:
            return None
        items = taken_and_items["items"]
        return {str(k): str(v) for k, v in items.items()} if isinstance(items, dict) else {}

    def now(self) -> float:
        """The server's clock: every machine dates listings the same way."""
        answer: tuple[int, int] = self._redis().time()  # type: ignore[assignment]
        seconds, micros = answer
        return float(seconds) + float(micros) / 1e6

    def put_listing(self, key: str, items: dict[str, str], began: float) -> None:
        """Share a listing whose read began at ``began`` (server time); the account's listings last a day."""
        self._redis()
        name, field = self._listing_key(key)
        self._scripts["put_listing"](
            keys=[name], args=[field, repr(float(began)), json.dumps(items), int(DAY)]
        )

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add an integration just created to the listing, and keep it for the reads running now."""
        self._redis()
        name, field = self._listing_key(key)
        self._scripts["add_to_listing"](
            keys=[name], args=[field, integration_id, cname_id, repr(ADDITIONS_KEPT)]
        )

    def forget_listings(self, prefix: str) -> None:
        """Drop the account's shared listings (after a delete or a move): one key, no keyspace scan."""
        self._redis()
        name, _field = self._listing_key(prefix)
        self._scripts["forget_listings"](keys=[name], args=[])

    # -- what operators see (the Oktopost page, metrics): see budget.snapshot --------------------------

    def note_account(self, key: str, fields: dict[str, str]) -> None:
        """Add ``key`` to the set of known accounts (no SCAN ever needed) and set non-secret notes."""
        fields = checked_notes(fields)
        client = self._redis()
        client.sadd(INDEX_NAME, key)
        if fields:
            client.hset(f"oktopost:{{{key}}}:notes", mapping=fields)

    def account_states(self, window: float, keys: list[str] | None = None) -> list[AccountState]:
        """Every known account (or those of ``keys``): its calls, block and notes, read-only."""
        client = self._redis()
        members: Any = client.smembers(INDEX_NAME)
        known = sorted(_text(k) for k in members)
        now = self.now()
        states = []
        for key in known if keys is None else [k for k in keys if k in known]:
            slots, blocked, days = self._keys(key)
            with client.pipeline(transaction=False) as pipe:
                pipe.zcount(slots, f"({now - window!r}", "+inf")
                pipe.hget(days, str(int(now // DAY)))
                pipe.get(blocked)
                pipe.hgetall(f"oktopost:{{{key}}}:notes")
                minute, today, until, notes = pipe.execute()
            states.append(
                AccountState(
                    key=key,
                    now=now,
                    minute=int(minute),
                    today=int(today or 0),
                    blocked_until=float(until or 0.0),
                    notes={_text(k): _text(v) for k, v in notes.items()},
                )
            )
        return states


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
