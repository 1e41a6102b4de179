"""Two-proportion z-test for A/B variants (pooled standard error, two-sided p-value). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

CONTROL_NAMES = ("control", "a", "baseline")


def two_proportion_z(
    converted_a: int, exposed_a: int, converted_b: int, exposed_b: int
) -> tuple[float | None, float | None]:
    """z of p_b - p_a and its two-sided p-value; (None, None) when undefined (no exposures, or
    both rates 0 or 1)."""
    if exposed_a == 0 or exposed_b == 0:
        return None, None
    pooled = (converted_a + converted_b) / (exposed_a + exposed_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / exposed_a + 1 / exposed_b))
    if se == 0:
        return None, None
    z = (converted_b / exposed_b - converted_a / exposed_a) / se
    return z, math.erfc(abs(z) / math.sqrt(2))


def control_of(variants: Sequence[str]) -> str:
    """The control variant: one named control/a/baseline, else the first alphabetically."""
    for name in CONTROL_NAMES:
        for v in variants:
            if v.lower() == name:
                return v
    return sorted(variants)[0]


def with_significance(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], alpha: float = 0.05
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Add uplift, z, p_value and significant (vs the experiment's control) to experiments rows
    (experiment, variant, exposed, converted, ...)."""
    ix = {c: i for i, c in enumerate(columns)}
    by_exp: dict[str, list[Sequence[Any]]] = {}
    for r in rows:
        by_exp.setdefault(r[ix["experiment"]], []).append(r)
    out = []
    for exp_rows in by_exp.values():
        control = control_of([r[ix["variant"]] for r in exp_rows])
        c = next(r for r in exp_rows if r[ix["variant"]] == control)
        n_a, x_a = c[ix["exposed"]], c[ix["converted"]]
        for r in exp_rows:
            if r is c:
                out.append((*r, "control", None, None, None, None))
                continue
            z, p = two_proportion_z(x_a, n_a, r[ix["converted"]], r[ix["exposed"]])
            uplift = r[ix["converted"]] / r[ix["exposed"]] - x_a / n_a if n_a else None
            out.append(
                (
                    *r,
                    control,
                    None if uplift is None else round(uplift, 6),
                    None if z is None else round(z, 4),
                    None if p is None else round(p, 4),
                    None if p is None else p < alpha,
                )
            )
    return [*columns, "control", "uplift", "z", "p_value", "significant"], out
