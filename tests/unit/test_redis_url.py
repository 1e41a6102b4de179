"""TOUCHLINE_REDIS_URL names a standalone Redis or a Redis Cluster (touchline/redis_client.py), a
bad one is refused in one line naming the variable, and one account's keys share a hash slot."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from redis.crc import key_slot

from pipeline.keys import account_base, account_key
from touchline.errors import settings_error
from touchline.redis_client import ClusterUrl, parse_cluster
from touchline.settings import Settings


def test_a_standalone_url_is_no_cluster() -> None:
    for url in ("redis://127.0.0.1:6379/0", "rediss://h:1/2", "unix:///tmp/r.sock"):
        assert parse_cluster(url) is None


def test_a_cluster_url_lists_its_nodes() -> None:
    assert parse_cluster("redis+cluster://10.0.0.1:7000,10.0.0.2:7001") == ClusterUrl(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001))
    )
    assert parse_cluster("rediss+cluster://u:p%40ss@[::1]:7000/0") == ClusterUrl(
        (("::1", 7000),), "u", "p@ss", ssl=True
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("localhost:6379", "not a URL"),
        ("http://h:1", "unknown scheme http://"),
        ("redis://h:port/0", "bad port"),
        ("redis+cluster://h1:7000,h2", "cluster node 'h2' is not host:port"),
        ("redis+cluster://h1:99999", "cluster node 'h1:99999' is not host:port"),
        ("redis+cluster://h1:7000/3", "only database 0"),
        ("redis+cluster://", "at least one host:port"),
    ],
)
def test_a_bad_url_is_refused_in_one_line(url: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(redis_url=url)
    line = settings_error(caught.value)
    assert line.startswith("TOUCHLINE_REDIS_URL: ") and reason in line and "\n" not in line


def test_one_accounts_keys_share_a_slot() -> None:
    names = ("merged", "card:c1", "id:email:a@b.de", "ids:3f", "seen:e1", "anchors:cid:1.2:email")
    for account in ("acc", "studio-7", "a:b", "x{y", "a}b"):
        slots = {key_slot(account_key("tl", account, n).encode()) for n in names}
        assert len(slots) == 1, account
    assert account_base("tl", "acc") == "tl:{acc}:"
