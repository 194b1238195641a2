"""Connection registry in Redis: who is connected, for which tenant and user, subscribed to what.

Round trips: register 2, unregister 2, touch 1, recipients 1, prune 2 (remove 1) — each a Lua script or a pipeline,
independent of tenant size. Keys of a tenant share the tenant's hash tag so every script stays on one slot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from redis.exceptions import NoScriptError

from . import redis_keys
from .errors import RateLimited
from .stores import RedisClient, queue_script

_REGISTER = """
local now = tonumber(ARGV[2])
local rate_limit = tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if rate_limit > 0 then
  for i = 3, 4 do
    local n = redis.call('INCR', KEYS[i])
    if n == 1 then redis.call('EXPIRE', KEYS[i], ARGV[7]) end
    if n > rate_limit then return {'rate', redis.call('TTL', KEYS[i])} end
  end
end
local max_tenant = tonumber(ARGV[4])
local max_user = tonumber(ARGV[5])
if max_tenant > 0 and redis.call('ZCARD', KEYS[1]) >= max_tenant then return {'tenant_limit', 0} end
if max_user > 0 and redis.call('ZCARD', KEYS[2]) >= max_user then return {'user_limit', 0} end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('EXPIREAT', KEYS[1], ARGV[3])
redis.call('EXPIREAT', KEYS[2], ARGV[3])
if KEYS[5] then
  redis.call('HSET', KEYS[5], 'tenantId', ARGV[8], 'userId', ARGV[9], 'connectedAt', ARGV[2], 'lastSeenAt', ARGV[2])
  redis.call('EXPIREAT', KEYS[5], ARGV[3])
  redis.call('SADD', KEYS[6], ARGV[8])
end
return {'ok', 0}
"""

# Reads the connection, refreshes lastSeenAt and applies the per-connection token bucket. Each refused message adds
# a strike; strikes halve every ARGV[4] seconds and an allowed message leaves them be, so a flood that gets some
# messages through still piles them up.
_TOUCH = """
local h = redis.call('HMGET', KEYS[1], 'tenantId', 'userId', 'tokens', 'tokensAt', 'strikes', 'strikesAt',
                     'connectedAt')
if not h[1] then return false end
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local allowed = 1
local strikes = tonumber(h[5]) or 0
if rate > 0 then
  local tokens = tonumber(h[3]) or burst
  local at = tonumber(h[4]) or now
  tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
  if tokens < 1 then
    allowed = 0
    local struck_at = tonumber(h[6]) or now
    strikes = strikes * 0.5 ^ (math.max(0, now - struck_at) / tonumber(ARGV[4])) + 1
    redis.call('HSET', KEYS[1], 'strikes', tostring(strikes), 'strikesAt', ARGV[1])
  else
    tokens = tokens - 1
  end
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'tokensAt', ARGV[1])
end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
return {h[1], h[2], allowed, tostring(strikes), h[7]}
"""

# Removes connections from every index of their tenant. KEYS: the tenant's connection set, each connection's
# subscription set, then the user sets named; ARGV[1]: the number of connections, ARGV[2]: the name of a conversation
# set less the conversation, then per connection its id and the index in KEYS of its user set (0: unknown, its state
# expired and with it its entry in the user's set). Every key carries the tenant's hash tag: one slot.
# Conversation sets are named by the members of a subscription set, so they cannot be declared; on a node whose slot
# is being migrated away, one it no longer holds refuses the SREM, and pcall lets the removal go on: the stale member
# is dropped by the next recipients lookup of that conversation, or expires with the set.
_REMOVE = """
local n = tonumber(ARGV[1])
for i = 1, n do
  local id, user = ARGV[1 + 2 * i], tonumber(ARGV[2 + 2 * i])
  redis.call('ZREM', KEYS[1], id)
  if user > 0 then redis.call('ZREM', KEYS[user], id) end
  local subs = KEYS[1 + i]
  for _, conv in ipairs(redis.call('SMEMBERS', subs)) do
    redis.pcall('SREM', ARGV[2] .. conv, id)
  end
  redis.call('DEL', subs)
end
return n
"""

# KEYS: the connection's subscription set, then one conversation set per ARGV[4..].
_SUBSCRIBE = """
local added = {}
for i = 2, #KEYS do
  local conversation = ARGV[i + 2]
  if redis.call('SISMEMBER', KEYS[1], conversation) == 0 and redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    added[#added + 1] = 0
  else
    redis.call('SADD', KEYS[i], ARGV[1])
    redis.call('SADD', KEYS[1], conversation)
    redis.call('EXPIREAT', KEYS[i], ARGV[2])
    added[#added + 1] = 1
  end
end
redis.call('EXPIREAT', KEYS[1], ARGV[2])
return added
"""

_UNSUBSCRIBE = """
redis.call('SREM', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[2], ARGV[2])
return 1
"""

# Live recipients: the tenant's unexpired connections, or the conversation's subscribers among them.
_RECIPIENTS = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if #KEYS == 1 then return redis.call('ZRANGE', KEYS[1], 0, -1) end
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('ZSCORE', KEYS[1], id) then
    live[#live + 1] = id
  else
    redis.call('SREM', KEYS[2], id)
  end
end
return live
"""

MAX_SUBSCRIPTIONS_PER_CONNECTION = 200
CONNECT_RATE_WINDOW_S = 60


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_per_tenant: int
    max_per_user: int
    connect_rate_per_minute: int


@dataclass(frozen=True, slots=True)
class Touch:
    """A live connection as seen by one message: who it is, whether its token bucket allowed the message, and its
    strikes: refused messages, each decayed by its age (as of the latest refusal)."""

    tenant_id: str
    user_id: str
    allowed: bool
    strikes: float
    connected_at: float


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    connection_id: str
    user_id: str
    connected_at: float
    last_seen_at: float
    subscriptions: list[str]


class Registry:
    """Connection state in Redis. Methods raise redis errors on Redis failure (mapped by the caller).
    The client must decode responses (``decode_responses=True``), as the runtime's clients do."""

    def __init__(
        self, client: RedisClient, *, connection_ttl_s: int, limits: ConnectionLimits, single_node: bool = False
    ) -> None:
        """``single_node``: every key on one server (not a cluster), so a registration is one script, one round
        trip; in a cluster the connection's own keys live in another slot than the tenant's and take a second."""
        self._redis = client
        self._single_node = single_node
        self._ttl = connection_ttl_s
        self._limits = limits
        self._register = client.register_script(_REGISTER)
        self._touch = client.register_script(_TOUCH)
        self._remove = client.register_script(_REMOVE)
        self._subscribe = client.register_script(_SUBSCRIBE)
        self._unsubscribe = client.register_script(_UNSUBSCRIBE)
        self._recipients = client.register_script(_RECIPIENTS)

    def register(self, connection_id: str, tenant_id: str, user_id: str, source_ip: str, now: float) -> None:
        """Register a connection; raises :class:`RateLimited` (429) for the connect rate and the connection limits."""
        expires_at = int(now) + self._ttl
        window = int(now) // CONNECT_RATE_WINDOW_S
        keys = [
            redis_keys.tenant_connections(tenant_id),
            redis_keys.user_connections(tenant_id, user_id),
            redis_keys.connect_rate(tenant_id, "ip", f"{source_ip}:{window}"),
            redis_keys.connect_rate(tenant_id, "user", f"{user_id}:{window}"),
        ]
        limits = self._limits
        args: list[str | int | float] = [connection_id, now, expires_at, limits.max_per_tenant, limits.max_per_user,
                              limits.connect_rate_per_minute, CONNECT_RATE_WINDOW_S]  # fmt: skip
        if self._single_node:
            keys += [redis_keys.connection(connection_id), redis_keys.TENANTS]
            args += [tenant_id, user_id]
        outcome = self._register(keys=keys, args=args)
        verdict = str(outcome[0])
        if verdict == "rate":
            raise RateLimited("too many connection attempts", retry_after=max(1, int(outcome[1])))
        if verdict == "tenant_limit":
            raise RateLimited("the tenant has too many open connections", retry_after=30)
        if verdict == "user_limit":
            raise RateLimited("the user has too many open connections", retry_after=30)
        if self._single_node:
            return
        pipe = self._redis.pipeline(transaction=False)
        pipe.hset(
            redis_keys.connection(connection_id),
            mapping={"tenantId": tenant_id, "userId": user_id, "connectedAt": now, "lastSeenAt": now},
        )
        pipe.expireat(redis_keys.connection(connection_id), expires_at)
        pipe.sadd(redis_keys.TENANTS, tenant_id)
        pipe.execute()

    def touch_and_meter(
        self, connection_id: str, now: float, rate_per_s: float, burst: int, strike_half_life_s: float
    ) -> Touch | None:
        """Refresh last-seen and take a token from the connection's bucket (a strike when it is empty); ``None`` if
        unknown."""
        found = self._touch(
            keys=[redis_keys.connection(connection_id)], args=[now, rate_per_s, burst, strike_half_life_s]
        )
        if not found:
            return None
        return Touch(
            tenant_id=str(found[0]),
            user_id=str(found[1]),
            allowed=bool(int(found[2])),
            strikes=float(found[3]),
            connected_at=float(str(found[4])) if found[4] else now,
        )

    def unregister(self, connection_id: str) -> bool:
        """Remove everything the connection registered; idempotent. Returns whether it was known.

        Its state is read first and deleted last: were the removal to fail, the connection would still be known
        (and the next broadcast's 410 would prune it)."""
        tenant_id, user_id = self._redis.hmget(redis_keys.connection(connection_id), ["tenantId", "userId"])
        if tenant_id is None:
            return False
        self.remove(str(tenant_id), {connection_id: None if user_id is None else str(user_id)})
        return True

    def subscribe(self, tenant_id: str, connection_id: str, conversation_id: str, now: float) -> bool:
        """Subscribe within the tenant; ``False`` when the connection holds too many subscriptions."""
        return self.subscribe_many(tenant_id, connection_id, [conversation_id], now) == [conversation_id]

    def subscribe_many(
        self, tenant_id: str, connection_id: str, conversation_ids: Sequence[str], now: float
    ) -> list[str]:
        """Subscribe to several conversations in one round trip; returns those within the subscription cap."""
        if not conversation_ids:
            return []
        unique = list(dict.fromkeys(conversation_ids))
        added = self._subscribe(
            keys=[
                redis_keys.subscriptions(tenant_id, connection_id),
                *(redis_keys.conversation(tenant_id, conversation_id) for conversation_id in unique),
            ],
            args=[connection_id, int(now) + self._ttl, MAX_SUBSCRIPTIONS_PER_CONNECTION, *unique],
        )
        return [conversation_id for conversation_id, ok in zip(unique, added, strict=True) if ok]

    def unsubscribe(self, tenant_id: str, connection_id: str, conversation_id: str) -> None:
        self._unsubscribe(
            keys=[
                redis_keys.conversation(tenant_id, conversation_id),
                redis_keys.subscriptions(tenant_id, connection_id),
            ],
            args=[connection_id, conversation_id],
        )

    def recipients(self, tenant_id: str, now: float, conversation_id: str | None = None) -> list[str]:
        """Live connection ids of the tenant, or of the tenant's conversation subscribers."""
        script_keys = [redis_keys.tenant_connections(tenant_id)]
        if conversation_id is not None:
            script_keys.append(redis_keys.conversation(tenant_id, conversation_id))
        return [str(member) for member in self._recipients(keys=script_keys, args=[now])]

    def prune(self, tenant_id: str, connection_ids: Sequence[str]) -> None:
        """Forget connections the gateway reported gone (410): their users are read, then :meth:`remove`."""
        if connection_ids:
            self.remove(tenant_id, dict(zip(connection_ids, self.user_ids(connection_ids), strict=True)))

    def remove(self, tenant_id: str, users: Mapping[str, str | None]) -> None:
        """Remove connections of the tenant (id -> user id, ``None`` when unknown) from every index holding them
        (tenant, user, conversations, subscriptions) in one script, then their state; one round trip."""
        if not users:
            return
        named_users = dict.fromkeys(user for user in users.values() if user)
        user_key_index = {user: 2 + len(users) + i for i, user in enumerate(named_users)}
        script_keys = [
            redis_keys.tenant_connections(tenant_id),
            *(redis_keys.subscriptions(tenant_id, cid) for cid in users),
            *(redis_keys.user_connections(tenant_id, user) for user in user_key_index),
        ]
        args: list[str | int] = [len(users), redis_keys.conversation(tenant_id, "")]
        for cid, user in users.items():
            args += [cid, user_key_index[user] if user else 0]
        # EVALSHA by hand: a Script run in a pipeline costs a SCRIPT EXISTS round trip every time.
        pipe = self._redis.pipeline(transaction=False)
        queue_script(pipe, self._remove.sha, script_keys, args)
        for cid in users:
            pipe.delete(redis_keys.connection(cid))
        try:
            pipe.execute()
        except NoScriptError:  # a restarted or flushed Redis: the deletes ran, the script is loaded and run now
            self._remove(keys=script_keys, args=args)

    def tenant_connections(self, tenant_id: str, now: float) -> list[ConnectionInfo]:
        """The tenant's live connections with their details (for the status API)."""
        ids = self.recipients(tenant_id, now)
        if not ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(redis_keys.connection(cid))
            pipe.smembers(redis_keys.subscriptions(tenant_id, cid))
        answers = pipe.execute()
        infos = []
        for index, cid in enumerate(ids):
            fields = {str(k): str(v) for k, v in answers[2 * index].items()}
            if not fields:
                continue
            infos.append(
                ConnectionInfo(
                    connection_id=cid,
                    user_id=fields.get("userId", ""),
                    connected_at=float(fields.get("connectedAt", 0)),
                    last_seen_at=float(fields.get("lastSeenAt", 0)),
                    subscriptions=sorted(str(s) for s in answers[2 * index + 1]),
                )
            )
        return infos

    def census(self, now: float) -> dict[str, list[str]]:
        """Live connection ids of every tenant that has any, from the ``tenants`` set (no KEYS/SCAN).

        Prunes expired members of each tenant's connection set and drops tenants left without any.
        Two round trips whatever the number of tenants (two more only when some tenant is dropped).
        """
        tenants = sorted(str(t) for t in self._redis.smembers(redis_keys.TENANTS))
        if not tenants:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for tenant_id in tenants:
            pipe.zremrangebyscore(redis_keys.tenant_connections(tenant_id), "-inf", now)
            pipe.zrange(redis_keys.tenant_connections(tenant_id), 0, -1)
        answers = pipe.execute()
        live: dict[str, list[str]] = {}
        empty: list[str] = []
        for index, tenant_id in enumerate(tenants):
            ids = [str(member) for member in answers[2 * index + 1]]
            if ids:
                live[tenant_id] = ids
            else:
                empty.append(tenant_id)
        if empty:
            self._drop_tenants(empty)
        return live

    def _drop_tenants(self, tenant_ids: Sequence[str]) -> None:
        """Remove tenants from ``tenants``; one that registered a connection meanwhile is put back.

        ``register`` adds to the tenant's connection set before it adds the tenant to ``tenants``, so checking
        the set after the removal never loses a tenant that has a live connection.
        """
        pipe = self._redis.pipeline(transaction=False)
        for tenant_id in tenant_ids:
            pipe.srem(redis_keys.TENANTS, tenant_id)
            pipe.zcard(redis_keys.tenant_connections(tenant_id))
        answers = pipe.execute()
        revived = [tenant_id for index, tenant_id in enumerate(tenant_ids) if int(answers[2 * index + 1])]
        if revived:
            self._redis.sadd(redis_keys.TENANTS, *revived)

    def user_ids(self, connection_ids: Sequence[str]) -> list[str | None]:
        """The user of each connection (``None`` when its state has expired); one round trip."""
        if not connection_ids:
            return []
        pipe = self._redis.pipeline(transaction=False)
        for cid in connection_ids:
            pipe.hget(redis_keys.connection(cid), "userId")
        return [None if user is None else str(user) for user in pipe.execute()]
