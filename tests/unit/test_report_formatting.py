"""Money, labels, percentages and durations as the reports show them (pure)."""

from __future__ import annotations

import json
from decimal import Decimal

from sinks import labels, money, tables
from sinks.reports import Section

ATTRIBUTION = Section(
    "attribution",
    "Attribution",
    ["model", "key", "conversions", "revenue_minor", "multichannel_share"],
    [
        ("linear", "paid_search", 3.5, 112987012.5, 0.25),
        ("position", "(no touch)", 1.0, 1e-07, 0.0),
    ],
)


def test_money_for_people_is_decimal_with_currency_never_an_exponent() -> None:
    (shown,) = money.for_people([ATTRIBUTION], ["EUR"])
    assert shown.columns[3] == "revenue"
    assert [r[3] for r in shown.rows] == ["1,129,870.12 EUR", "0.00 EUR"]  # half to even
    (mixed,) = money.for_people([ATTRIBUTION], ["EUR", "USD"])
    assert mixed.rows[0][3] == "mixed currencies: EUR, USD"  # never a sum across currencies


def test_money_for_machines_is_exact_strings_with_minor_units_kept() -> None:
    (shown,) = money.for_machines([ATTRIBUTION], ["EUR"])
    assert shown.columns[3:6] == ["revenue_minor", "revenue", "currency"]
    assert shown.rows[0][3:6] == ("112987012.5", "1129870.12", "EUR")  # half to even
    assert shown.rows[1][3:6] == ("0.0000001", "0.00", "EUR")
    assert Decimal(shown.rows[0][3]) == Decimal("112987012.5")


PER_CURRENCY = Section(
    "attribution",
    "Attribution",
    ["model", "key", "conversions", "revenue_minor", "multichannel_share"],
    [
        ("linear", "email", 2.0, {"USD": 5000.5, "EUR": 112987012.5}, 0.5),
        ("linear", "direct", 1.0, {}, 0.0),
        ("first", "sms", 1.0, {"": 1e-07}, 0.0),
    ],
)


def test_money_per_currency_is_never_added_across_currencies() -> None:
    (people,) = money.for_people([PER_CURRENCY], ["EUR", "USD"])
    assert [r[3] for r in people.rows] == [
        "1,129,870.12 EUR / 50.00 USD",
        "0.00",
        "0.00 (no currency)",
    ]
    (machines,) = money.for_machines([PER_CURRENCY], ["EUR", "USD"])
    assert machines.columns[3:6] == ["revenue_minor", "revenue", "currency"]
    assert machines.rows[0][3:6] == (
        {"EUR": "112987012.5", "USD": "5000.5"},
        {"EUR": "1129870.12", "USD": "50.00"},
        "EUR+USD",
    )
    assert machines.rows[1][3:6] == ({}, {}, "")
    assert machines.rows[2][3] == {"": "0.0000001"}
    csv = tables.render(machines.columns, machines.rows, "csv").splitlines()
    assert (
        csv[1] == "linear,email,2.0,EUR=112987012.5;USD=5000.5,EUR=1129870.12;USD=50.00,EUR+USD,0.5"
    )
    as_json = json.loads(tables.render(machines.columns, machines.rows, "json"))
    assert as_json[0]["revenue"] == {"EUR": "1129870.12", "USD": "50.00"}


def test_labels_percentages_and_durations_for_people() -> None:
    funnel = Section(
        "booking_outcomes",
        "Outcomes",
        ["breakdown", "success_rate", "ttc_median_s"],
        [("paid_social", 0.2857142, 719283)],
    )
    (shown,) = labels.readable([funnel], {"breakdown": "channel"})
    assert shown.rows == [("Paid social", "28.6 %", "8d 07h")]
    (attribution,) = labels.readable([ATTRIBUTION], {})
    assert attribution.rows[0][:3] == ("Linear", "Paid search", 3.5)
    (by_campaign,) = labels.readable([ATTRIBUTION], {"by": "campaign"})
    assert by_campaign.rows[0][1] == "paid_search"  # a campaign is shown as it is named


def test_every_channel_the_rules_can_give_has_a_label() -> None:
    from pipeline import channels
    from sinks.labels import CHANNELS

    assert channels.AI_ASSISTANT in channels.CHANNELS
    assert set(channels.CHANNELS) == set(CHANNELS) - {"(no touch)"}


def test_money_and_percentages_are_right_aligned_in_text_tables() -> None:
    text = tables.render(
        ["key", "revenue", "share", "note"],
        [
            ("Paid search", "1,129,870.12 EUR / 50.00 USD", "28.6 %", "a"),
            ("Email", "0.00 EUR", "100.0 %", "long note"),
            ("SMS", "mixed currencies: EUR, USD", "", "b"),
            ("Email", "2.50 (no currency)", "0.0 %", "c"),
        ],
    )
    # money and percentages end where their column (and header) ends; text stays left-aligned
    assert [line.rstrip() for line in text.splitlines()] == [
        "key                               revenue    share  note",
        "-----------  ----------------------------  -------  ---------",
        "Paid search  1,129,870.12 EUR / 50.00 USD   28.6 %  a",
        "Email                            0.00 EUR  100.0 %  long note",
        "SMS          mixed currencies: EUR, USD             b",
        "Email                  2.50 (no currency)    0.0 %  c",
    ]
