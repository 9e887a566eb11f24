"""The deployment-wide store: a Redis-compatible server that every machine of the deployment reaches.

Each reservation is one Lua script, so it is atomic on the server, and it reads the time from the server
(``TIME``), so machines whose clocks differ still agree on every window, block and UTC day. The script is
:func:`.rules.plan` written in Lua; keep the two in step. Keys (one hash tag per account, so a cluster
keeps an account's keys together): ``oktopost:{<account>}:slots`` (sorted set of send times),
``...:blocked`` (end of a block), ``...:days`` (hash: UTC day -> calls), ``...:listing:<type>``.

Needs the optional ``redis`` package (``pip install 'airflow-provider-oktopost[redis]'``).
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_oktopost.core.budget.rules import DAY, Grant
from airflow_provider_oktopost.core.budget.snapshot import INDEX_NAME, AccountState, checked_notes

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
        from urllib.parse import urlsplit

        parts = urlsplit(self.url)  # never show a password that may be in the URL
        return f"RedisStore('{parts.scheme}://{parts.hostname}:{parts.port or 6379}{parts.path}')"

    def _redis(self) -> redis.Redis:
        with self._lock:
            if self._client is None:
                import redis as redis_lib

                self._client = redis_lib.Redis.from_url(
                    self.url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT
                )
                self._scripts = {
                    "reserve": self._client.register_script(_RESERVE),
                    "block": self._client.register_script(_BLOCK),
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

    def _listing_key(self, key: str) -> str:
        return f"oktopost:{{{key.split(':', 1)[0]}}}:listing:{key}"

    def get_listing(self, key: str, max_age: float) -> dict[str, str] | None:
        """A shared listing no older than ``max_age`` seconds (it expires on the server), or None."""
        raw = self._redis().get(self._listing_key(key))
        if raw is None:
            return None
        taken_and_items = json.loads(raw)
        age = float(self._server_time()) - float(taken_and_items["taken"])
        if age > max_age:
            return None
        items = taken_and_items["items"]
        return {str(k): str(v) for k, v in items.items()}

    def _server_time(self) -> float:
        seconds, micros = self._redis().time()
        return float(seconds) + float(micros) / 1e6

    def put_listing(self, key: str, items: dict[str, str]) -> None:
        """Replace the shared listing, dated by the server's clock; it expires after a day at most."""
        payload = json.dumps({"taken": self._server_time(), "items": items})
        self._redis().set(self._listing_key(key), payload, ex=int(DAY))

    def add_to_listing(self, key: str, integration_id: str, cname_id: str) -> None:
        """Add an integration this provider just created to the listing, if there is one (optimistic)."""
        client = self._redis()
        name = self._listing_key(key)
        with client.pipeline() as pipe:
            for _ in range(5):
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    raw = pipe.get(name)
                    if raw is None:
                        return
                    data = json.loads(raw)
                    data["items"][integration_id] = cname_id
                    pipe.multi()
                    pipe.set(name, json.dumps(data), keepttl=True)
                    pipe.execute()
                    return
                except Exception as error:  # WatchError: someone else wrote it; read again
                    if type(error).__name__ != "WatchError":
                        raise

    def forget_listings(self, prefix: str) -> None:
        """Drop every shared listing whose key starts with ``prefix`` (after a delete or a move)."""
        client = self._redis()
        for name in client.scan_iter(match=f"oktopost:{{{prefix.split(':', 1)[0]}}}:listing:*"):
            client.delete(name)

    def clear(self) -> None:
        """Forget every account (tests): deletes this provider's keys only."""
        client = self._redis()
        for name in client.scan_iter(match="oktopost:*"):
            client.delete(name)

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
        now = self._server_time()
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
