"""Malformed events mixed into the stream, copies of real ones with one thing wrong (wrong type,
missing field, unknown event type, field or source), each recorded in the truth by kind."""

from __future__ import annotations

import copy

from synthetic.world import World

MALFORMED_KINDS = (
    "unknown_event_type",
    "missing_account_id",
    "bad_occurred_at",
    "email_not_a_string",
    "unknown_field",
    "unknown_source",
)


def add_malformed(w: World) -> None:
    """Adds malformed events so they make up ``config.malformed_share`` of all events."""
    share = w.config.malformed_share
    valid = len(w.timed)
    if share <= 0 or valid == 0:
        return
    rng = w.rng
    count = round(share * valid / (1 - share))
    for _ in range(count):
        at, base_id, base = w.timed[rng.randrange(valid)]
        event = copy.deepcopy(base)
        envelope = event["envelope"]
        event_id = w.uuid()
        envelope["event_id"] = event_id
        kind = rng.choice(MALFORMED_KINDS)
        if kind == "unknown_event_type":
            envelope["event_type"] = envelope["event_type"] + "_v0"
        elif kind == "missing_account_id":
            del envelope["account_id"]
        elif kind == "bad_occurred_at":
            envelope["occurred_at"] = "yesterday"
        elif kind == "email_not_a_string":
            envelope["ids"] = {**envelope["ids"], "email": 4711}
        elif kind == "unknown_field":
            event["utm_sorce"] = "google"
        else:
            envelope["source"] = "fax_machine"
        w.timed.append((at, event_id, event))
        w.truth.malformed[event_id] = kind
        w.truth.event_person[event_id] = w.truth.event_person[base_id]
