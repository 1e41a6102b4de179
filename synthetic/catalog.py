"""The demo booking business: its site, locations, staff, services and shop, shared by the web,
booking, contact and studio-system domains."""

from __future__ import annotations

SITE = "https://studio.example"
CURRENCY = "EUR"
PAGES = (
    ("/", "Studio - Home"),
    ("/prices", "Prices"),
    ("/classes", "Class schedule"),
    ("/team", "Our team"),
    ("/book", "Book an appointment"),
)
LOCATIONS = (("1", "Mitte"), ("2", "Kreuzberg"), ("3", "Prenzlauer Berg"))
STAFF = (
    ("st-1", "Ana Costa", "ana@studio.example"),
    ("st-2", "Ben Ito", "ben@studio.example"),
    ("st-3", "Cleo Marx", "cleo@studio.example"),
    ("st-4", "Dev Patel", "dev@studio.example"),
)
# (id, name, minutes, price in minor units)
APPOINTMENT_SERVICES = (
    ("svc-physio", "Physiotherapy", 60, 8_900),
    ("svc-massage", "Massage", 45, 6_500),
    ("svc-pt", "Personal training", 60, 7_500),
)
PRODUCTS = (
    ("p-mat", "Yoga mat", 3_990),
    ("p-bottle", "Bottle", 1_490),
    ("p-towel", "Towel", 1_990),
    ("p-gift", "Gift card 50", 5_000),
)
