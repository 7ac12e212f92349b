"""What the disclosure control must guarantee, checked against exact counts made in Python.

These are the properties a reader who does not read the cases must get (not a second
implementation of the algorithm): nothing shown is false; no count of one to a few persons is
shown; none can be worked out from a published total; a small total hides its breakdowns; a
short period shows no portrait; nothing is withheld without a reason.
"""

from __future__ import annotations

from typing import Any

COUNTS = (
    "signalements",
    "retained",
    "not_retained",
    "examined",
    "orientations",
    "transmitted",
    "closed",
    "withdrawn",
)
BREAKDOWNS = (
    "by_origin",
    "by_motif",
    "by_sex",
    "by_age_bracket",
    "by_destination",
    "feedback",
    "by_closure_reason",
    "by_withdrawal_reason",
)
TOTAL_OF = {
    "by_origin": "signalements",
    "by_sex": "signalements",
    "by_age_bracket": "signalements",
    "by_destination": "orientations",
    "by_closure_reason": "closed",
    "by_withdrawal_reason": "withdrawn",
}
PORTRAITS = ("by_sex", "by_age_bracket", "by_motif")


def _small(n: int, threshold: int) -> bool:
    return 0 < n < threshold


def assert_protected(
    answer: dict[str, Any],
    exact: dict[str, Any],
    sizes: dict[str, int],
    *,
    threshold: int,
    portraits: bool = True,
) -> None:
    withheld: dict[str, str] = answer["suppressed"]
    assert answer["masked_under"] == threshold
    # Meetings are not persons: always exact.
    assert answer["meetings"] == exact["meetings"]
    values: dict[str, tuple[Any, int]] = {}
    for key in COUNTS:
        values[key] = (answer[key], exact[key])
    for name in BREAKDOWNS:
        assert set(answer[name]) == set(exact[name]), name
        for value, n in exact[name].items():
            values[f"{name}.{value}"] = (answer[name][value], n)
    for key, (shown, n) in values.items():
        # Shown: the truth. Withheld: null, and listed with a reason.
        assert (shown is None) == (key in withheld), key
        if shown is not None:
            assert shown == n, key
        # No count of one to a few persons is shown.
        if _small(n, threshold):
            assert key in withheld, key
    for name, total in TOTAL_OF.items():
        if not portraits and name in PORTRAITS:
            continue  # withheld whole (checked below): nothing to subtract
        hidden = [v for v in exact[name] if f"{name}.{v}" in withheld]
        if total in withheld:
            assert len(hidden) == len(exact[name]), f"{name}: its total is withheld"
        elif hidden:
            # Not one alone (recovered by subtraction), and no small group together.
            assert len(hidden) >= 2, name
            assert sum(exact[name][v] for v in hidden) >= threshold, name
    for name in PORTRAITS:
        whole = all(f"{name}.{v}" in withheld for v in exact[name])
        if not portraits:
            assert whole, name
            assert {withheld[f"{name}.{v}"] for v in exact[name]} == {"short_period"}
    for step, shown in answer["median_days"].items():
        key = f"median_days.{step}"
        if _small(sizes[step], threshold):
            assert shown is None, step
            assert withheld[key] == "under_threshold", step
        else:
            assert key not in withheld, step
            assert shown == exact["median_days"][step], step
    # Nothing withheld without its reason.
    for key, why in withheld.items():
        if key.startswith("median_days."):
            continue
        name = key.split(".")[0]
        n = values[key][1]
        if why == "under_threshold":
            assert _small(n, threshold), key
        elif why == "secondary":
            assert name in TOTAL_OF, key
            total = TOTAL_OF[name]
            small_sibling = any(
                withheld.get(f"{name}.{v}") == "under_threshold" for v in exact[name]
            )
            assert total in withheld or small_sibling, key
        else:
            assert why == "short_period", key
            assert not portraits, key
            assert name in PORTRAITS, key
