"""Each principal's share of the workers' slots, in distributed mode: leases in Redis.

A worker that receives a job asks for a lease for the job's principal (a user) before running it.
The Lua scripts below make every step atomic across all workers and replicas:

- `acquire`: granted when the principal holds fewer leases than its role's limit and has no job
  waiting in its line; otherwise the job is *parked* at the back of the principal's line (a Redis
  list) and its delivery is acknowledged, so the worker takes other work at once instead of idling
  or spinning on it. Parking happens before the acknowledgement: a worker dying in between leaves
  the delivery pending, and recovery pushes it again (the claim's compare-and-set refuses a
  second run).
- `release` (the execution ended): the lease goes, and the principal's free turns go to the head
  of its line, in order: each is *reserved* (it counts against the share) and appended to the job
  stream again, behind everyone else's queued jobs. So users at their share take turns with the
  rest: a user's waiting jobs re-enter the shared queue one per finished job, never all at once.
- `hand_back` (recovery): the lease of a worker that died (or is shutting down) either becomes the
  reservation of the job put back on the stream in the same step, or is released.

A lease keeps the job it was granted for, so recovery finds what a dead worker ran from its
leases as well as from its pending deliveries (a worker presumed dead while still alive may go on
with deliveries whose pending entries recovery already removed). A job delivered while its
execution holds a lease is a duplicate: it runs without a lease and the claim decides, as for any
job delivered twice (the lease holder may have lost the execution to recovery meanwhile); the
share may then be passed by one for a moment, but nothing waits on a lease that runs nothing.
Every worker also reconciles its own leases with the jobs it really runs, so a release lost to a
Redis error heals within two heartbeats.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from redis.asyncio import Redis

from nanobrain.core.user import User
from nanobrain.runtime.executors.base import Job

NO_LIMIT = -1

# KEYS: 1 held (user -> leases + reservations), 2 leases (execution -> "holder user role"),
# 3 reserved (execution -> user), 4 parked index (execution -> parked at, ms), 5 the user's line,
# 6 the job stream, 7 leased jobs (execution -> the job as the stream carries it).
# Passing turns on: the head of the line is reserved and streamed again.
_UNPARK = """
local function unpark(user, limit)
  local held = tonumber(redis.call('HGET', KEYS[1], user) or '0')
  while limit < 0 or held < limit do
    local entry = redis.call('LPOP', KEYS[5])
    if not entry then break end
    local cut = string.find(entry, '\\n', 1, true)
    local id = string.sub(entry, 1, cut - 1)
    redis.call('ZREM', KEYS[4], id)
    if redis.call('HEXISTS', KEYS[2], id) == 0 and redis.call('HEXISTS', KEYS[3], id) == 0 then
      redis.call('HSET', KEYS[3], id, user)
      held = redis.call('HINCRBY', KEYS[1], user, 1)
      redis.call('XADD', KEYS[6], '*', 'data', string.sub(entry, cut + 1))
    end
  end
end
local function drop_one(user)
  if redis.call('HINCRBY', KEYS[1], user, -1) <= 0 then redis.call('HDEL', KEYS[1], user) end
end
local function lease(id, value, message)
  redis.call('HSET', KEYS[2], id, value)
  redis.call('HSET', KEYS[7], id, message)
end
local function unlease(id)
  redis.call('HDEL', KEYS[2], id)
  redis.call('HDEL', KEYS[7], id)
end
"""

# ARGV: user, execution, lease ("holder user role"), limit, the job as the stream carries it.
# Returns 1 granted, 0 parked, 2 a duplicate of an execution that holds a lease.
_ACQUIRE = (
    _UNPARK
    + """
local user, id, limit = ARGV[1], ARGV[2], tonumber(ARGV[4])
if redis.call('HEXISTS', KEYS[2], id) == 1 then return 2 end
if redis.call('HDEL', KEYS[3], id) == 1 then
  lease(id, ARGV[3], ARGV[5])
  return 1
end
local held = tonumber(redis.call('HGET', KEYS[1], user) or '0')
if (limit < 0 or held < limit) and redis.call('LLEN', KEYS[5]) == 0 then
  redis.call('HINCRBY', KEYS[1], user, 1)
  lease(id, ARGV[3], ARGV[5])
  return 1
end
local t = redis.call('TIME')
redis.call('RPUSH', KEYS[5], id .. '\\n' .. ARGV[5])
redis.call('ZADD', KEYS[4], 'NX', t[1] * 1000 + math.floor(t[2] / 1000), id)
unpark(user, limit)  -- a share left free (its limit was raised) passes on, in order
return 0
"""
)

# ARGV: user, execution, lease, limit. Returns 1 released, 0 not this lease.
_RELEASE = (
    _UNPARK
    + """
local user, id = ARGV[1], ARGV[2]
if redis.call('HGET', KEYS[2], id) ~= ARGV[3] then return 0 end
unlease(id)
drop_one(user)
unpark(user, tonumber(ARGV[4]))
return 1
"""
)

# ARGV: user, execution, lease, limit, again ('1': the job runs again and keeps its turn), the
# job as the stream carries it. Returns 1 when it put the job back on the stream itself (with
# its turn, in the same step: nothing can come between), else 0.
_HAND_BACK = (
    _UNPARK
    + """
local user, id, again = ARGV[1], ARGV[2], ARGV[5] == '1'
if redis.call('HGET', KEYS[2], id) == ARGV[3] then
  unlease(id)
  if again then
    redis.call('HSET', KEYS[3], id, user)
    redis.call('XADD', KEYS[6], '*', 'data', ARGV[6])
    return 1
  end
elseif again or redis.call('HDEL', KEYS[3], id) == 0 then
  return 0
end
drop_one(user)
unpark(user, tonumber(ARGV[4]))
return 0
"""
)


class Turn(enum.Enum):
    TAKEN = 1  # run it
    PARKED = 0  # waits in its principal's line: acknowledge the delivery
    DUPLICATE = 2  # its execution holds a lease elsewhere: run without one, the claim decides


@dataclass(frozen=True, slots=True)
class Parked:
    count: int
    oldest_ms: int | None  # Redis time it was parked


class Shares:
    def __init__(self, redis: Redis, prefix: str, stream: str, limits: Mapping[str, int]):
        self._redis = redis
        self.prefix = prefix
        self._prefix = f"{prefix}:share"
        self._stream = stream
        self._limits = dict(limits)
        self.held_key = f"{self._prefix}:held"
        self.leases_key = f"{self._prefix}:leases"
        self.reserved_key = f"{self._prefix}:reserved"
        self.parked_key = f"{self._prefix}:parked"
        self.jobs_key = f"{self._prefix}:jobs"
        self._acquire = redis.register_script(_ACQUIRE)
        self._release = redis.register_script(_RELEASE)
        self._hand_back = redis.register_script(_HAND_BACK)

    def limit(self, role: str) -> int:
        return self._limits.get(role, NO_LIMIT)

    def line_key(self, user_id: str) -> str:
        return f"{self._prefix}:line:{user_id}"

    def _keys(self, user_id: str) -> list[str]:
        return [
            self.held_key,
            self.leases_key,
            self.reserved_key,
            self.parked_key,
            self.line_key(user_id),
            self._stream,
            self.jobs_key,
        ]

    async def acquire(self, job: Job, holder: str, message: bytes) -> Turn:
        """A lease for `job` held by worker `holder`, or its place in line. `message` is the job
        as the stream carries it: kept in line until the job's turn comes, and with the lease
        until it is released, so recovery can run it again whatever happened to its delivery."""
        user = job.user
        args: list[str | int | bytes] = [
            user.id,
            job.execution_id,
            _lease(holder, user),
            self.limit(user.role),
            message,
        ]
        return Turn(int(await self._acquire(keys=self._keys(user.id), args=args)))

    async def release(self, job: Job, holder: str) -> bool:
        """The execution ended: its lease goes, and its principal's next job gets the turn."""
        user = job.user
        args: list[str | int] = [
            user.id,
            job.execution_id,
            _lease(holder, user),
            self.limit(user.role),
        ]
        return bool(await self._release(keys=self._keys(user.id), args=args))

    async def hand_back(self, job: Job, holder: str, *, again: bool, message: bytes) -> bool:
        """`holder` will not finish `job`: the job to run `again` (`message`) goes back on the
        stream with its lease as its reserved turn, or the lease is released. Also releases a
        reservation whose delivery was lost. True when the job went back on the stream here;
        False leaves pushing it again (if `again`) to the caller."""
        user = job.user
        args: list[str | int | bytes] = [
            user.id,
            job.execution_id,
            _lease(holder, user),
            self.limit(user.role),
            "1" if again else "0",
            message,
        ]
        return bool(await self._hand_back(keys=self._keys(user.id), args=args))

    async def leased_jobs(self, holder: str) -> list[tuple[str, User, bytes | None]]:
        """(execution, principal, the job as the stream carries it) of each lease `holder`
        holds: what a dead worker was running, whatever became of its deliveries."""
        held = await self.held_by(holder)
        if not held:
            return []
        messages = await self._redis.hmget(self.jobs_key, list(held))
        return [
            (execution, user, message if isinstance(message, bytes) else None)
            for (execution, user), message in zip(held.items(), messages, strict=True)
        ]

    async def held_by(self, holder: str) -> dict[str, User]:
        """Execution -> principal of the leases `holder` holds."""
        leases = await self._redis.hgetall(self.leases_key)
        found: dict[str, User] = {}
        for execution, value in leases.items():
            owner, user_id, role = [*_text(value).split(" "), "", ""][:3]
            if owner == holder:
                found[_text(execution)] = User(id=user_id, username="", role=role)
        return found

    async def running(self) -> int:
        return int(await self._redis.hlen(self.leases_key))

    async def parked(self) -> Parked:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(self.parked_key)
        pipe.zrange(self.parked_key, 0, 0, withscores=True)
        count, oldest = await pipe.execute()
        return Parked(int(count), int(oldest[0][1]) if oldest else None)


class Reconciler:
    """A worker's leases are exactly the jobs it runs: a lease seen without its job in two
    consecutive rounds (one round may see a lease granted since its snapshot) is released."""

    def __init__(self, shares: Shares, holder: str):
        self._shares = shares
        self._holder = holder
        self._suspects: set[str] = set()

    async def run_once(self, running: Iterable[Job]) -> int:
        jobs = {job.execution_id for job in running}
        held = await self._shares.held_by(self._holder)
        orphans = {execution for execution in held if execution not in jobs}
        released = 0
        for execution in orphans & self._suspects:
            lost = Job(execution, "", "", {}, held[execution])
            released += await self._shares.release(lost, self._holder)
        self._suspects = orphans - self._suspects
        return released


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _lease(holder: str, user: User) -> str:
    return f"{holder} {user.id} {user.role}"
