"""Client state in Redis. Every change is one Lua script, so it is atomic across workers and
applied at most once per ``event_id`` (the dedupe record holds the enriched output, so a
redelivered event is re-emitted byte for byte and changes no counter)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

# KEYS: seen:<event_id>, touches:<client>   ARGV: ttl seconds
_TOUCH = """
local prior = redis.call('GET', KEYS[1])
if prior then return {0, prior} end
local n = redis.call('HINCRBY', KEYS[2], 'touch_count', 1)
redis.call('SET', KEYS[1], tostring(n), 'EX', tonumber(ARGV[1]))
return {1, tostring(n)}
"""


class ClientStore:
    def __init__(self, url: str, prefix: str, dedupe_ttl_s: int = 14 * 86400) -> None:
        self.redis: Any = aioredis.Redis.from_url(url)
        self.prefix = prefix
        self.ttl = dedupe_ttl_s
        self._touch = self.redis.register_script(_TOUCH)

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    async def touch(self, client_id: str, event_id: str) -> tuple[bool, int]:
        """Count a touch once per event; returns (first time seen, touch count)."""
        is_new, count = await self._touch(
            keys=[self.key("seen", event_id), self.key("client", client_id)], args=[self.ttl]
        )
        return bool(is_new), int(count)

    async def touch_count(self, client_id: str) -> int:
        return int(await self.redis.hget(self.key("client", client_id), "touch_count") or 0)

    async def close(self) -> None:
        await self.redis.aclose()
