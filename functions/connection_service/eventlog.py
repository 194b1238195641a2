"""The durable per-tenant event log: a Redis stream per tenant, bounded by count and age.

An append is one round trip (a Lua script that also honours the caller's idempotency key).
Entry ids are the stream ids, monotonic per tenant, which clients use to resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import redis_keys
from .stores import RedisClient

_APPEND = """
if ARGV[1] ~= '' then
  local existing = redis.call('GET', KEYS[2])
  if existing then return {existing, 1} end
end
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], '*', 'e', ARGV[2], 'c', ARGV[6])
if ARGV[5] ~= '0' then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[5])
end
if ARGV[1] ~= '' then redis.call('SET', KEYS[2], id, 'EX', ARGV[4]) end
return {id, 0}
"""

# Entries after ``last_id`` up to ``until_id``, and whether the log still reaches back to ``last_id``.
_SINCE = """
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 then
  if ARGV[1] == '0-0' then return {1, {}} end
  return {0, {}}
end
local complete = 1
if ARGV[1] ~= '0-0' and first[1][1] ~= ARGV[1] then
  local probe = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
  if #probe == 0 then complete = 0 end
end
if ARGV[1] == ARGV[4] then return {complete, {}} end
return {complete, redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], ARGV[2], 'COUNT', ARGV[3])}
"""

# Nothing follows the largest stream id, and Redis refuses it as an exclusive start.
MAX_ID = f"{2**64 - 1}-{2**64 - 1}"


@dataclass(frozen=True, slots=True)
class Appended:
    id: str
    duplicate: bool


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    body: str
    conversation_id: str

    def frame(self) -> bytes:
        """The delivered frame: the stored JSON object with the entry's id put first."""
        return ('{"id":"' + self.id + '",' + self.body[1:]).encode()


@dataclass(frozen=True, slots=True)
class Replay:
    """Entries a client missed; ``complete`` is false when the log no longer reaches back to its last id."""

    complete: bool
    entries: list[Entry]


def _entry(entry_id: Any, fields: list[Any]) -> Entry:
    values = {str(fields[i]): str(fields[i + 1]) for i in range(0, len(fields) - 1, 2)}
    return Entry(id=str(entry_id), body=values["e"], conversation_id=values.get("c", ""))


class EventLog:
    """Per-tenant streams. Methods raise redis errors on Redis failure (mapped by the caller).
    The client must decode responses (``decode_responses=True``), as the runtime's clients do."""

    def __init__(self, client: RedisClient, *, max_len: int, retention_s: int, idempotency_ttl_s: int) -> None:
        self._redis = client
        self._max_len = max_len
        self._retention_s = retention_s
        self._idempotency_ttl_s = idempotency_ttl_s
        self._append = client.register_script(_APPEND)
        self._since = client.register_script(_SINCE)

    def append(
        self,
        tenant_id: str,
        entry: str,
        now: float,
        *,
        conversation_id: str = "",
        event_id: str | None = None,
    ) -> Appended:
        """Append ``entry`` (a frame's JSON, without its id) to the tenant's log, unless ``event_id`` was seen.

        ``conversation_id`` marks an entry meant only for that conversation's subscribers.
        """
        min_id = f"{int((now - self._retention_s) * 1000)}-0" if self._retention_s > 0 else "0"
        # The idempotency key is named only when there is one: in a cluster, a slot being migrated refuses a script
        # naming keys it holds only some of (TRYAGAIN), and a name nobody writes would be such a key.
        script_keys = [redis_keys.events(tenant_id)] + (
            [redis_keys.idempotency(tenant_id, event_id)] if event_id else []
        )
        outcome = self._append(
            keys=script_keys,
            args=[event_id or "", entry, self._max_len, self._idempotency_ttl_s, min_id, conversation_id],
        )
        return Appended(id=str(outcome[0]), duplicate=bool(int(outcome[1])))

    def since(self, tenant_id: str, last_id: str, until_id: str = "+", limit: int = 1000) -> Replay:
        """Entries after ``last_id`` (exclusive) up to ``until_id`` (inclusive), oldest first."""
        complete, entries = self._since(keys=[redis_keys.events(tenant_id)], args=[last_id, until_id, limit, MAX_ID])
        return Replay(
            complete=bool(int(complete)),
            entries=[_entry(entry_id, fields) for entry_id, fields in entries],
        )

    def length(self, tenant_id: str) -> int:
        return int(self._redis.xlen(redis_keys.events(tenant_id)))

    def lengths(self, tenant_ids: Sequence[str]) -> dict[str, int]:
        """The log length of each tenant; one pipelined round trip."""
        if not tenant_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for tenant_id in tenant_ids:
            pipe.xlen(redis_keys.events(tenant_id))
        return {tenant_id: int(n) for tenant_id, n in zip(tenant_ids, pipe.execute(), strict=True)}

    @property
    def max_len(self) -> int:
        return self._max_len

    @property
    def retention_s(self) -> int:
        return self._retention_s
