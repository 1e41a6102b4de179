"""Which clients a batch makes the sink derive again (sinks/touch_derivation.plan): every
canonical client whose events the inserted rows can change, and every stitched id that can hold
one of their events."""

from __future__ import annotations

from sinks import rows
from sinks.touch_derivation import named, plan


def test_named_takes_the_stitched_clients_and_both_sides_of_merges_and_splits() -> None:
    event = [None] * len(rows.COLUMNS)
    event[rows.COLUMNS.index("account_id")] = "a"
    event[rows.COLUMNS.index("client_id")] = "c1"
    merge = [None] * len(rows.MERGE_COLUMNS)
    for column, value in (("account_id", "a"), ("from_client_id", "m1"), ("to_client_id", "m2")):
        merge[rows.MERGE_COLUMNS.index(column)] = value
    split = [None] * len(rows.SPLIT_COLUMNS)
    for column, value in (("account_id", "b"), ("from_client_id", "s1"), ("to_client_id", "s2")):
        split[rows.SPLIT_COLUMNS.index(column)] = value
    assert named([event], [merge], [split]) == {
        ("a", "c1"),
        ("a", "m1"),
        ("a", "m2"),
        ("b", "s1"),
        ("b", "s2"),
    }


def test_a_merged_id_derives_its_canonical_client_through_all_its_ids() -> None:
    links = {("a", "x"): "c", ("a", "y"): "c", ("a", "other"): "d"}
    canonical, held = plan({("a", "x")}, [], links)
    assert canonical == {("a", "c")}
    assert held == {("a", "c"), ("a", "x"), ("a", "y")}


def test_a_split_derives_both_the_client_left_and_the_split_client() -> None:
    # event e1 was stitched to p1 and carries an identifier split off to s1 (merged into t1)
    splits = [("a", "e1", "s1", "p1")]
    links = {("a", "s1"): "t1"}
    canonical, held = plan({("a", "p1")}, splits, links)
    assert canonical == {("a", "p1"), ("a", "t1")}
    assert held == {("a", "p1"), ("a", "t1"), ("a", "s1")}
    canonical, held = plan({("a", "s1")}, splits, links)  # the split record names s1
    assert canonical == {("a", "t1"), ("a", "p1")}
    # a client whose split events moved to a client derived for another reason is read too
    canonical, held = plan({("a", "t1")}, splits, links)
    assert canonical == {("a", "t1")}
    assert ("a", "p1") in held  # e1 is stored under p1 and is t1's now


def test_accounts_never_mix() -> None:
    links = {("b", "x"): "c"}
    canonical, held = plan({("a", "x")}, [("b", "e", "s", "x")], links)
    assert canonical == {("a", "x")}
    assert held == {("a", "x")}
