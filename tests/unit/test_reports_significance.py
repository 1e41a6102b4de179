"""The A/B significance test against figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from sinks.significance import control_of, two_proportion_z, with_significance


def test_two_proportion_z_matches_hand_computation() -> None:
    # 100/1000 vs 130/1000: pooled p = 0.115, se = sqrt(0.115 * 0.885 * 0.002)
    z, p = two_proportion_z(100, 1000, 130, 1000)
    se = math.sqrt(0.115 * 0.885 * 0.002)
    assert z == pytest.approx(0.03 / se, rel=1e-12)
    assert z == pytest.approx(2.1027, abs=1e-4)
    assert p == pytest.approx(0.0355, abs=1e-4)


def test_identical_rates_are_not_significant_and_degenerate_cases_are_none() -> None:
    z, p = two_proportion_z(50, 500, 50, 500)
    assert z == 0 and p == 1
    assert two_proportion_z(0, 0, 3, 10) == (None, None)
    assert two_proportion_z(0, 10, 0, 10) == (None, None)


def test_control_is_named_or_first() -> None:
    assert control_of(["b", "control"]) == "control"
    assert control_of(["green", "blue"]) == "blue"


def test_rows_gain_z_and_p_against_control() -> None:
    cols, rows = with_significance(
        ["experiment", "variant", "exposed", "converted"],
        [("x", "b", 1000, 130), ("x", "control", 1000, 100), ("y", "a", 10, 1), ("y", "b", 10, 1)],
    )
    assert cols[-5:] == ["control", "uplift", "z", "p_value", "significant"]
    by = {(r[0], r[1]): r for r in rows}
    assert by[("x", "b")][-3:] == (2.1027, 0.0355, True)
    assert by[("x", "control")][4] == "control" and by[("x", "control")][-1] is None
    assert by[("y", "b")][-3:] == (0.0, 1.0, False)
