"""Each source adapter: native payload -> the exact contract events, accepted by ``prepare``;
bad native input -> AdapterError naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from producers.adapters import ADAPTERS, AdapterError, booking_widget, call_tracking, crm, studio
from producers.adapters.native import minor_units, stable_event_id
from producers.events import Prepared, prepare
from touchline.clientid import client_id_from_ga
from touchline.contracts import load_cached
from touchline.settings import Settings

CONTRACTS = load_cached(Settings().schemas_dir)
T = 1_795_000_000_000
T_ISO = "2026-11-18T11:06:40Z"


def prepared(events: list[dict[str, Any]]) -> list[Prepared]:
    out = []
    for event in events:
        result = prepare(CONTRACTS, event, received_at=T + 1)
        assert isinstance(result, Prepared), [str(e) for e in result]
        out.append(result)
    return out


def test_widget_appointment_step() -> None:
    push = {
        "event": "appointment_booking",
        "gtm.uniqueEventId": 12,
        "appointments": [
            {
                "worker_id": 42,
                "appointment_service_id": "svc-cut",
                "resource_name": "Eva",
                "worker_email": "eva@studio.example",
                "appointment_service_name": "Haircut",
                "store_id": "s1",
                "store_name": "Mitte",
            }
        ],
        "touchline_event_id": "0b7e2c9a-5d0b-4e8e-9a35-0f0c8a0f7c11",
        "occurred_at": T_ISO,
        "account_id": "studio-1",
        "_ga": "GA1.2.147852369.3692587411",
        "page_url": "https://studio.example/book",
        "landing_page": "https://studio.example/?utm_source=google",
        "referrer": "https://www.google.com/",
        "utm_source": "google",
        "utm_medium": "cpc",
        "gclid": "abc",
    }
    (p,) = prepared(booking_widget.convert(push, None))
    assert p.family.name == "touchline.events.BookingStep"
    env = p.datum["envelope"]
    assert env["event_id"] == "0b7e2c9a-5d0b-4e8e-9a35-0f0c8a0f7c11"
    assert env["occurred_at"] == T
    assert env["source"] == "booking_widget"
    assert env["ids"]["cid"] == "147852369.3692587411"
    assert env["web"]["utm_medium"] == "cpc"
    assert env["web"]["gclid"] == "abc"
    assert env["web"]["referrer"] == "https://www.google.com/"
    assert p.datum["appointments"][0]["worker_id"] == "42"
    assert p.datum["appointments"][0]["store_name"] == "Mitte"
    assert p.key == b"147852369.3692587411"


def test_widget_group_event_booking_and_bound_account() -> None:
    push = {
        "event": "event_booking",
        "events": [
            {"event_id": 901, "event_category": "workshop", "event_title": "Yoga basics"},
            {"event_id": "902", "event_title": "Pilates"},
        ],
        "occurred_at": T,
        "cid": "1.2",
    }
    (p,) = prepared(booking_widget.convert(push, "studio-9"))
    assert p.family.name == "touchline.events.EventBooking"
    assert p.datum["envelope"]["account_id"] == "studio-9"
    assert [e["event_id"] for e in p.datum["events"]] == ["901", "902"]
    assert p.datum["events"][1]["event_category"] is None


@pytest.mark.parametrize(
    ("push", "field"),
    [
        ([], "$"),
        ({"occurred_at": T, "account_id": "a"}, "$.event"),
        ({"event": "page_view", "occurred_at": T, "account_id": "a"}, "$.event"),
        ({"event": "appointment_booking", "account_id": "a"}, "$.occurred_at"),
        (
            {"event": "appointment_booking", "occurred_at": "soon", "account_id": "a"},
            "$.occurred_at",
        ),
        ({"event": "appointment_booking", "occurred_at": T}, "$.account_id"),
        (
            {
                "event": "appointment_booking",
                "occurred_at": T,
                "account_id": "a",
                "appointments": 3,
            },
            "$.appointments",
        ),
        (
            {"event": "event_booking", "occurred_at": T, "account_id": "a", "events": [{"x": []}]},
            "$.events[0].x",
        ),
    ],
)
def test_widget_bad_input_names_the_field(push: Any, field: str) -> None:
    with pytest.raises(AdapterError) as err:
        booking_widget.convert(push, None)
    assert err.value.field == field


def test_widget_unknown_appointment_key_is_refused_by_the_contract() -> None:
    push = {
        "event": "appointment_booking",
        "occurred_at": T,
        "account_id": "a",
        "appointments": [{"colour": "red"}],
    }
    (event,) = booking_widget.convert(push, None)
    errors = prepare(CONTRACTS, event)
    assert isinstance(errors, list)
    assert str(errors[0]) == "$.appointments[0].colour: is not a field of this event"


def hook(kind: str, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "wh-1",
        "type": kind,
        "occurredAt": T_ISO,
        "accountId": "studio-1",
        "client": {"id": "c-7", "email": "Anna@Example.com", "phone": "+49 30 1234567"},
        "data": data,
        **extra,
    }


def test_studio_appointment() -> None:
    data = {
        "id": 5001,
        "locationId": 1,
        "staffId": "st-3",
        "staffName": "Eva",
        "startDateTime": "2026-11-20T10:00:00Z",
        "endDateTime": "2026-11-20T11:00:00Z",
        "duration": 60,
        "resources": ["Room 2", {"name": "Mat"}],
        "providerId": "p-1",
        "providerName": "Eva Studio",
    }
    (p,) = prepared(studio.convert(hook("appointment.confirmed", data), None))
    d = p.datum
    assert p.family.name == "touchline.events.AppointmentEvent"
    assert d["envelope"]["event_type"] == "appointment_confirmed"
    assert d["envelope"]["source"] == "studio_system"
    assert d["envelope"]["ids"]["external_ids"] == {"studio": "c-7"}
    assert d["envelope"]["ids"]["email"] == "Anna@Example.com"
    assert d["envelope"]["location_id"] == "1"
    assert d["appointment_id"] == "5001"
    assert d["start_at"] == 1_795_168_800_000  # 2026-11-20T10:00:00Z
    assert d["end_at"] == 1_795_168_800_000 + 3600_000
    assert d["duration_minutes"] == 60
    assert d["resources"] == ["Room 2", "Mat"]
    assert d["service_name"] == "Eva Studio"
    # Retries of the same delivery give the same event id.
    again = studio.convert(hook("appointment.confirmed", data), None)
    assert again[0]["envelope"]["event_id"] == d["envelope"]["event_id"]


def test_studio_class_membership_contract_profile() -> None:
    cls = prepared(
        studio.convert(
            hook(
                "class.cancelled",
                {
                    "classId": 77,
                    "itemId": "pass-1",
                    "itemName": "Day Pass",
                    "cancellationType": "late_cancel",
                },
            ),
            None,
        )
    )[0].datum
    assert (cls["envelope"]["event_type"], cls["class_id"], cls["cancellation_type"]) == (
        "class_cancelled",
        "77",
        "late_cancel",
    )
    wait = prepared(
        studio.convert(
            hook("class.waitlist_joined", {"classId": "c", "maxWaitlistSize": "10"}), None
        )
    )[0].datum
    assert wait["waitlist_max_size"] == 10
    mem = prepared(
        studio.convert(
            hook("membership.activated", {"membershipId": "123", "membershipName": "All Access"}),
            None,
        )
    )[0].datum
    assert (mem["membership_id"], mem["membership_name"]) == ("123", "All Access")
    con = prepared(
        studio.convert(
            hook(
                "contract.created",
                {
                    "contractId": "9",
                    "salesRepId": 4,
                    "salesRepName": "Tom",
                    "locationId": 2,
                    "startDate": "2026-12-01",
                    "autoRenew": "true",
                },
            ),
            None,
        )
    )[0].datum
    assert con["auto_renew"] is True
    assert con["sales_staff_id"] == "4"
    assert con["start_at"] == 1_796_083_200_000  # 2026-12-01T00:00:00Z
    profile = prepared(
        studio.convert(
            {
                **hook(
                    "client.synced",
                    {
                        "id": "c-7",
                        "firstName": "Anna",
                        "email": "anna@example.com",
                        "accountBalance": "12.30",
                        "currency": "EUR",
                        "visitCount": 14,
                        "emailConsent": True,
                        "firstAppointmentDate": "2025-02-01",
                    },
                ),
                "client": None,
            },
            None,
        )
    )[0].datum
    assert profile["envelope"]["event_type"] == "client_profile_synced"
    assert profile["historical"] is True
    assert profile["account_balance_minor"] == 1230
    assert profile["envelope"]["ids"]["external_ids"] == {"studio": "c-7"}
    assert profile["envelope"]["ids"]["email"] == "anna@example.com"


def test_studio_order_gives_one_ordered_product_per_item() -> None:
    data = {
        "orderId": "o-1",
        "soldBy": "Tom",
        "locationId": 1,
        "currency": "EUR",
        "paymentReferenceId": "pay-9",
        "value": "54.50",
        "items": [
            {"itemId": "i1", "type": "product", "name": "Mat", "amountPaid": 30, "quantity": 1},
            {
                "itemId": "i2",
                "type": "service",
                "name": "Massage",
                "amountPaid": "24.50",
                "amountDiscounted": "5",
                "giftCardBarcodeId": "gc-1",
            },
        ],
    }
    events = prepared(studio.convert(hook("order.placed", data), None))
    assert [p.datum["envelope"]["event_type"] for p in events] == [
        "order_placed",
        "ordered_product",
        "ordered_product",
    ]
    placed = events[0].datum
    assert placed["total_minor"] == 5450
    assert [i["amount_paid_minor"] for i in placed["items"]] == [3000, 2450]
    assert placed["items"][1]["amount_discounted_minor"] == 500
    assert events[2].datum["gift_card_barcode_id"] == "gc-1"
    assert events[2].datum["currency"] == "EUR"
    assert len({p.datum["envelope"]["event_id"] for p in events}) == 3


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (hook("order.shipped", {}), "$.type"),
        (hook("order.placed", {"orderId": "o", "items": []}), "$.data.currency"),
        (
            hook("order.placed", {"orderId": "o", "currency": "EUR", "items": [{"itemId": "x"}]}),
            "$.data.items[0].type",
        ),
        (
            hook(
                "order.placed",
                {
                    "orderId": "o",
                    "currency": "EUR",
                    "items": [{"itemId": "x", "type": "p", "amountPaid": "1,5"}],
                },
            ),
            "$.data.items[0].amountPaid",
        ),
        (hook("appointment.scheduled", {"id": 1}), "$.data.startDateTime"),
        (hook("class.booked", {"classId": 1, "maxWaitlistSize": "ten"}), "$.data.maxWaitlistSize"),
        ({**hook("class.booked", {"classId": 1}), "accountId": None}, "$.accountId"),
        ({**hook("class.booked", {"classId": 1}), "data": []}, "$.data"),
        (
            {**hook("class.booked", {"classId": 1}), "occurredAt": "2026-11-18T09:00"},
            "$.occurredAt",
        ),
    ],
)
def test_studio_bad_input_names_the_field(payload: Any, field: str) -> None:
    with pytest.raises(AdapterError) as err:
        studio.convert(payload, None)
    assert err.value.field == field


CALL = {
    "call_id": "c-981",
    "start_time": "2026-11-18T14:06:40+03:00",
    "account_id": "studio-1",
    "caller_number": "+7 916 123-45-67",
    "called_number": "+74951234567",
    "duration": 95,
    "talk_duration": "80",
    "recording_url": "https://calls.example/r/981.mp3",
    "is_unique": True,
    "final_group": "Sales",
    "call_page": "https://studio.example/prices",
    "client_id": "GA1.2.147852369.3692587411",
    "location": {"country": "RU", "city": "Moscow"},
    "utm_source": "yandex",
    "utm_medium": "cpc",
    "utm_campaign": "brand",
    "utm_term": "yoga studio",
    "landing_page": "https://studio.example/?utm_source=yandex",
}


def test_call_notification() -> None:
    (p,) = prepared(call_tracking.convert(CALL, None))
    d = p.datum
    assert p.family.name == "touchline.events.InboundContact"
    assert d["envelope"]["event_type"] == "contact_call"
    assert d["envelope"]["occurred_at"] == T
    assert d["envelope"]["ids"]["phone"] == "+7 916 123-45-67"
    assert d["envelope"]["ids"]["cid"] == "147852369.3692587411"
    assert d["envelope"]["web"]["utm_term"] == "yoga studio"
    assert d["contact_id"] == "c-981"
    assert (d["duration_seconds"], d["talk_seconds"], d["unique_call"]) == (95, 80, True)
    assert d["final_pbx_group"] == "Sales"
    assert d["geo"] == {"country": "RU", "region": None, "city": "Moscow"}
    assert d["envelope"]["event_id"] == stable_event_id("call_tracking", "studio-1", "c-981")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"call_id": None}, "$.call_id"),
        ({"start_time": None}, "$.start_time"),
        ({"duration": "long"}, "$.duration"),
        ({"is_unique": "maybe"}, "$.is_unique"),
        ({"location": "Moscow"}, "$.location"),
        ({"caller_number": ["+7"]}, "$.caller_number"),
    ],
)
def test_call_bad_input_names_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(AdapterError) as err:
        call_tracking.convert({**CALL, **change}, None)
    assert err.value.field == field


ROW = {
    "type": "deal",
    "id": "D-17",
    "lead_id": "L-3",
    "contact_id": "4711",
    "status": "won",
    "stage": "closed",
    "amount": "1250.00",
    "currency": "EUR",
    "created_at": "2026-11-01",
    "closed_at": T_ISO,
    "cid": "",
    "_ga": "GA1.2.111.222",
    "email": "anna@example.com",
    "phone": "",
    "utm_source": "newsletter",
    "utm_medium": "email",
    "referrer": "",
    "account_id": "studio-1",
}


def test_crm_rows() -> None:
    (deal,) = prepared(crm.convert(ROW, None))
    d = deal.datum
    assert deal.family.name == "touchline.events.CrmDeal"
    assert d["envelope"]["event_type"] == "crm_deal"
    assert d["envelope"]["occurred_at"] == T
    assert d["envelope"]["ids"] == {
        "cid": "111.222",
        "email": "anna@example.com",
        "phone": None,
        "external_ids": {"crm": "4711"},
        "session_id": None,
    }
    assert d["envelope"]["web"]["utm_source"] == "newsletter"
    assert (d["deal_id"], d["lead_id"], d["amount_minor"], d["status"]) == (
        "D-17",
        "L-3",
        125000,
        "won",
    )
    lead = {"type": "lead", "id": "L-3", "created_at": "2026-10-30T08:00:00Z", "account_id": "a"}
    batch = prepared(crm.convert({"rows": [lead, ROW]}, None))
    assert batch[0].datum["lead_id"] == "L-3"
    assert batch[0].datum["deal_id"] is None
    assert batch[0].datum["status"] == "open"
    assert batch[0].datum["envelope"]["web"] is None
    # The same export row twice is the same event.
    assert crm.convert(ROW, None)[0]["envelope"]["event_id"] == d["envelope"]["event_id"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"type": "opportunity"}, "$.type"),
        ({"id": ""}, "$.id"),
        ({"status": "pending"}, "$.status"),
        ({"amount": "lots"}, "$.amount"),
        ({"currency": ""}, "$.currency"),
        ({"created_at": "", "closed_at": ""}, "$.created_at"),
        ({"closed_at": "18.11.2026"}, "$.closed_at"),
    ],
)
def test_crm_bad_rows_name_the_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(AdapterError) as err:
        crm.convert({**ROW, **change}, None)
    assert err.value.field == field


def test_crm_rows_error_path_includes_the_row_index() -> None:
    with pytest.raises(AdapterError) as err:
        crm.convert({"rows": [ROW, {**ROW, "type": "x"}]}, None)
    assert err.value.field == "$.rows[1].type"


def test_native_readers() -> None:
    assert client_id_from_ga("GA1.2.147852369.3692587411") == "147852369.3692587411"
    assert client_id_from_ga("147852369.3692587411") == "147852369.3692587411"
    assert minor_units({"a": "0.015"}, "a", "$") == 2  # banker's rounding of half a cent
    assert minor_units({"a": -3}, "a", "$") == -300
    with pytest.raises(AdapterError):
        minor_units({"a": "NaN"}, "a", "$")
    assert set(ADAPTERS) == {"booking-widget", "studio", "call-tracking", "crm"}


# One _ga parser (touchline.clientid) for the adapters and the worker. The adapters' own parser kept
# any value it did not recognise as the client id and knew only the ``GA1.2.X.Y`` form; these are
# the cases where the two differed.
@pytest.mark.parametrize(
    ("cookie", "cid"),
    [
        ("GA1.2-2.147852369.3692587411", "147852369.3692587411"),  # legacy depth-count form
        ("ga1.2.147852369.3692587411", "147852369.3692587411"),  # lower case
        ('"_ga=GA1.2.147852369.3692587411" ', "147852369.3692587411"),  # quoted, prefixed
        ("not-a-cookie", None),  # garbage: no client id, not the garbage itself
        ("GS1.1.1692000000.1.1.1692000100.0.0.0", None),  # a GA4 session cookie
        ("GA1.2.١٢٣.٤٥٦", None),  # non-ASCII digits
    ],
)
def test_adapters_read_cookies_with_the_one_ga_parser(cookie: str, cid: str | None) -> None:
    widget = {
        "event": "appointment_booking",
        "occurred_at": T_ISO,
        "account_id": "a",
        "_ga": cookie,
    }
    ((event,),) = [booking_widget.convert(widget, None)]
    call = call_tracking.convert({**CALL, "client_id": cookie}, None)[0]
    row = crm.convert({**ROW, "cid": "", "_ga": cookie}, None)[0]
    assert [e["envelope"]["ids"].get("cid") for e in (event, call, row)] == [cid, cid, cid]


def test_a_garbage_cid_falls_back_to_the_ga_cookie() -> None:
    widget = {"event": "appointment_booking", "occurred_at": T_ISO, "account_id": "a"}
    (event,) = booking_widget.convert({**widget, "cid": "n/a", "_ga": "GA1.2.1.2"}, None)
    (row,) = crm.convert({**ROW, "cid": "n/a", "_ga": "GA1.2.1.2"}, None)
    assert event["envelope"]["ids"]["cid"] == row["envelope"]["ids"]["cid"] == "1.2"


# Issue 17: limits at the door. Times that leave datetime's range once moved to UTC, and digits
# that str.isdigit() takes but int() does not, are AdapterErrors naming the field (not a 500).
EXTREME_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
NOT_ASCII_DIGITS = ["²", "١٢٣", "１２"]
TIME_FIELDS = [
    ("booking-widget", {"event": "appointment_booking", "account_id": "a"}, "occurred_at"),
    ("studio", hook("appointment.scheduled", {"id": "ap-1", "startDateTime": T}), "occurredAt"),
    ("call-tracking", CALL, "start_time"),
    ("crm", ROW, "closed_at"),
]


@pytest.mark.parametrize("value", EXTREME_TIMES + NOT_ASCII_DIGITS)
@pytest.mark.parametrize(("source", "payload", "key"), TIME_FIELDS)
def test_every_adapter_names_the_field_of_an_unusable_time(
    source: str, payload: dict[str, Any], key: str, value: str
) -> None:
    with pytest.raises(AdapterError) as err:
        ADAPTERS[source].convert({**payload, key: value}, None)
    assert err.value.field == f"$.{key}"


@pytest.mark.parametrize("value", [*NOT_ASCII_DIGITS, "9" * 5000, "+" + "1" * 20])
def test_integers_take_ascii_digits_only(value: str) -> None:
    with pytest.raises(AdapterError) as err:
        call_tracking.convert({**CALL, "duration": value}, None)
    assert err.value.field == "$.duration"
    assert call_tracking.convert({**CALL, "duration": " 95 "}, None)[0]["duration_seconds"] == 95


def test_epoch_ms_strings_take_ascii_digits_only() -> None:
    (event,) = call_tracking.convert({**CALL, "start_time": str(T)}, None)
    assert event["envelope"]["occurred_at"] == T
    with pytest.raises(AdapterError) as err:
        call_tracking.convert({**CALL, "start_time": "9" * 5000}, None)
    assert err.value.field == "$.start_time"
