"""The guard on ``identity_id_shards``: which ``ids:<shard>`` hash holds an identifier's owner
depends on it (:func:`pipeline.keys.id_shard`), so a deployment changing it would look every
known identifier up in the wrong hash and silently give each a new client.

The first worker (or rebuild) of a deployment records the value in ``<prefix>:id-shards``; a
later one with another value refuses to start, naming the setting and both values. ``touchline
rebuild --flush`` deletes the key with the rest of the state and replays every identity in the
new layout.
"""

from __future__ import annotations

from touchline import redis_client
from touchline.errors import TouchlineError

KEY = "id-shards"


def check(url: str, prefix: str, shards: int) -> None:
    """Record ``shards`` for the deployment ``prefix`` if none is, else require it unchanged."""
    r = redis_client.connect(url)
    try:
        key = f"{prefix}:{KEY}"
        r.set(key, shards, nx=True)
        stored = int(r.get(key))
    finally:
        r.close()
    if stored != shards:
        raise TouchlineError(
            f"TOUCHLINE_IDENTITY_ID_SHARDS is {shards}, but the identities under {prefix}: are "
            f"in {stored} hashes per account: set it back to {stored}, or stop the workers and "
            "run `touchline rebuild --flush` to replay them into the new layout"
        )
