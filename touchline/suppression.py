"""The suppression list: keyed hashes of erased people's identifiers, kept on a compacted Kafka
topic (``<prefix>.suppressions``) that the worker and the sink read from its start.

A record's key is the hash, its value ``{"state": "suppressed", "at": ms}``; lifting writes a
tombstone (no value), so compaction forgets the person for good. Hashes are HMAC-SHA256 of
``account`` and the identifier key (``email:a@b.de``, ``phone:+49...``, ``cid:1.2``,
``ext.studio:c-1``, or ``client:<client id>``) under ``TOUCHLINE_PRIVACY_KEY``: the topic and the
erasure log hold no clear identifier, yet an event of that person is recognised on arrival.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
from collections.abc import Iterable
from typing import Any, Protocol

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client import Counter

from touchline import clock

log = logging.getLogger(__name__)

SUPPRESSED = Counter(
    "touchline_suppressed_events_total",
    "Events of erased (suppressed) people dropped instead of stored, by stage",
    ["stage"],
)


def keyed_hash(key: str, account: str, identifier: str) -> str:
    """The keyed hash of one identifier of one account (hex, 32 characters)."""
    message = f"{account}\x1f{identifier}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def topic_name(prefix: str) -> str:
    return f"{prefix}.suppressions"


def ensure_topic(bootstrap: str, topic: str, partitions: int = 1) -> None:
    """Create the compacted suppression topic if it does not exist."""
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 3})
    if topic in admin.list_topics(timeout=10).topics:
        return
    new = NewTopic(
        topic, num_partitions=partitions, replication_factor=1, config={"cleanup.policy": "compact"}
    )
    for name, future in admin.create_topics([new], request_timeout=15).items():
        try:
            future.result()
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise RuntimeError(f"could not create topic {name}: {exc}") from exc


def publish(bootstrap: str, topic: str, hashes: Iterable[str], *, lift: bool = False) -> int:
    """Suppress (or lift, with tombstones) the hashes; returns how many Kafka acknowledged."""
    ensure_topic(bootstrap, topic)
    producer = Producer(
        {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True, "log_level": 3}
    )
    errors: list[str] = []

    def done(err: KafkaError | None, _msg: object) -> None:
        if err is not None:
            errors.append(str(err))

    value = None if lift else orjson.dumps({"state": "suppressed", "at": clock.now_ms()})
    sent = 0
    for h in sorted(set(hashes)):
        producer.produce(topic, key=h.encode(), value=value, on_delivery=done)
        sent += 1
    left = producer.flush(30)
    if errors or left:
        raise RuntimeError(f"suppression topic {topic}: {errors[:1] or [f'{left} unsent']}")
    return sent


class Suppression(Protocol):
    """What the worker and the sink ask: drop this event? (``SuppressionList``, or a set in unit
    tests of pure logic.)"""

    def drops(self, account: str, identifiers: Iterable[str], stage: str) -> bool: ...


class SuppressionList:
    """The hashes currently suppressed, kept up to date from the topic by a background thread."""

    def __init__(self, bootstrap: str, topic: str, key: str) -> None:
        self.key = key
        self.topic = topic
        self._hashes: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._caught_up = threading.Event()
        ensure_topic(bootstrap, topic)
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": "unused",
                "enable.auto.commit": False,
                "log_level": 3,
            }
        )
        self._thread = threading.Thread(target=self._run, daemon=True, name="suppressions")

    def start(self, wait_s: float = 30.0) -> SuppressionList:
        """Start reading; returns once the topic has been read to its end (or ``wait_s``)."""
        self._thread.start()
        if not self._caught_up.wait(wait_s):
            log.warning("suppression list not read to its end after %.0fs; going on", wait_s)
        return self

    def _assign(self) -> dict[int, int]:
        meta = self._consumer.list_topics(self.topic, timeout=10).topics[self.topic]
        parts = sorted(meta.partitions)
        ends = {
            p: self._consumer.get_watermark_offsets(TopicPartition(self.topic, p), timeout=10)[1]
            for p in parts
        }
        self._consumer.assign([TopicPartition(self.topic, p, OFFSET_BEGINNING) for p in parts])
        return {p: end for p, end in ends.items() if end > 0}

    def _run(self) -> None:
        try:
            pending = self._assign()
            if not pending:
                self._caught_up.set()
            while not self._stop.is_set():
                for msg in self._consumer.consume(500, timeout=0.2):
                    if msg.error() is not None:
                        continue
                    self._apply(msg.key(), msg.value())
                    part, offset = msg.partition(), msg.offset()
                    if part in pending and offset is not None and offset + 1 >= pending[part]:
                        del pending[part]
                        if not pending:
                            self._caught_up.set()
        except Exception:  # the list must never stop its process; it keeps what it has
            log.exception("suppression list reader stopped")
        finally:
            self._caught_up.set()
            self._consumer.close()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if not key:
            return
        with self._lock:
            if value is None:
                self._hashes.discard(key.decode())
            else:
                self._hashes.add(key.decode())

    def __len__(self) -> int:
        return len(self._hashes)

    def matches(self, account: str, identifiers: Iterable[str]) -> bool:
        """Whether any identifier of the account is suppressed."""
        if not self._hashes:
            return False
        return any(keyed_hash(self.key, account, i) in self._hashes for i in identifiers)

    def drops(self, account: str, identifiers: Iterable[str], stage: str) -> bool:
        """:meth:`matches`, counting a match in ``touchline_suppressed_events_total``."""
        if self.matches(account, identifiers):
            SUPPRESSED.labels(stage).inc()
            return True
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)


def stored_identifiers(datum: dict[str, Any]) -> tuple[str, list[str]]:
    """The account and identifier keys of an EnrichedEvent or IdentityMerge datum, as the sink
    checks them: its client ids and the identifiers the event carried."""
    if "from_client_id" in datum:
        return datum["account_id"], [
            f"client:{datum['from_client_id']}",
            f"client:{datum['to_client_id']}",
            *datum.get("identifiers", ()),  # an IdentitySplit's
        ]
    ids = [f"client:{datum['client_id']}"]
    ids.extend(f"{kind}:{datum[kind]}" for kind in ("email", "phone", "cid") if datum.get(kind))
    return datum["account_id"], ids
