"""The procedural rules on their own, as pure functions."""

from __future__ import annotations

from datetime import date

import pytest

from app.vocabulary import CellKind, Destination
from app.workflow import guards
from app.workflow.guards import GuardFailed, InvalidStepInput, StepFacts

TODAY = date(2026, 6, 15)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        (date(2026, 1, 15), date(2026, 2, 15)),
        (date(2026, 1, 31), date(2026, 2, 28)),
        (date(2024, 1, 31), date(2024, 2, 29)),
        (date(2026, 12, 10), date(2027, 1, 10)),
        (date(2026, 3, 31), date(2026, 4, 30)),
    ],
)
def test_one_calendar_month_later(start: date, expected: date) -> None:
    assert guards.add_calendar_months(start, 1) == expected


@pytest.mark.parametrize(
    ("received_on", "held_on", "allowed"),
    [
        (date(2026, 1, 15), date(2026, 2, 15), True),
        (date(2026, 1, 15), date(2026, 2, 14), False),
        (date(2026, 1, 31), date(2026, 2, 28), True),
        (date(2026, 1, 31), date(2026, 2, 27), False),
        (date(2026, 1, 15), date(2026, 1, 15), False),
    ],
)
def test_the_one_month_rule(received_on: date, held_on: date, allowed: bool) -> None:
    facts = StepFacts(today=TODAY, received_on=received_on, meeting_held_on=held_on)
    if allowed:
        guards.one_month_elapsed(facts)
    else:
        with pytest.raises(GuardFailed) as refused:
            guards.one_month_elapsed(facts)
        assert refused.value.slug == "one-month-rule"
        assert guards.add_calendar_months(received_on, 1).isoformat() in refused.value.detail


@pytest.mark.parametrize(
    ("birth", "on", "age"),
    [
        (date(2010, 6, 15), date(2026, 6, 15), 16),
        (date(2010, 6, 16), date(2026, 6, 15), 15),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
    ],
)
def test_age_in_completed_years(birth: date, on: date, age: int) -> None:
    assert guards.age_on(birth, on) == age


@pytest.mark.parametrize(
    ("kind", "age", "accepted"),
    [
        (CellKind.CENOMED, 5, True),
        (CellKind.CENOMED, 17, True),
        (CellKind.CENOMED, 18, False),
        (CellKind.RECIDIVISM, 11, False),
        (CellKind.RECIDIVISM, 12, True),
        (CellKind.RECIDIVISM, 25, True),
        (CellKind.RECIDIVISM, 26, False),
    ],
)
def test_the_public_of_each_kind_of_cell(kind: CellKind, age: int, accepted: bool) -> None:
    birth = date(TODAY.year - age, TODAY.month, TODAY.day)
    if accepted:
        guards.check_public(kind, birth, TODAY)
    else:
        with pytest.raises(InvalidStepInput):
            guards.check_public(kind, birth, TODAY)


def test_a_declared_receipt_is_neither_future_nor_older_than_the_bound() -> None:
    guards.check_received_on(TODAY, TODAY, 92)
    # 92 days back is the bound (15 June 2026 - 92 days = 15 March 2026): that day is allowed,
    # the day before is not; tomorrow is not either.
    guards.check_received_on(date(2026, 3, 15), TODAY, 92)
    with pytest.raises(InvalidStepInput) as old:
        guards.check_received_on(date(2026, 3, 14), TODAY, 92)
    assert (old.value.slug, old.value.field) == ("received-on-too-old", ("received_on",))
    with pytest.raises(InvalidStepInput) as future:
        guards.check_received_on(date(2026, 6, 16), TODAY, 92)
    assert future.value.slug == "received-on-in-future"
    # The bound is a setting.
    guards.check_received_on(date(2026, 6, 1), TODAY, 14)
    with pytest.raises(InvalidStepInput):
        guards.check_received_on(date(2026, 5, 31), TODAY, 14)


def test_social_services_need_the_family_informed_and_a_cst() -> None:
    social = Destination.SOCIAL_SERVICES
    with pytest.raises(GuardFailed, match="family"):
        guards.family_informed_before_social_services(
            StepFacts(today=TODAY, destination=social, has_social_coordinator=True)
        )
    with pytest.raises(GuardFailed, match="CST"):
        guards.family_informed_before_social_services(
            StepFacts(today=TODAY, destination=social, family_informed=True)
        )
    guards.family_informed_before_social_services(
        StepFacts(
            today=TODAY, destination=social, family_informed=True, has_social_coordinator=True
        )
    )
    guards.family_informed_before_social_services(
        StepFacts(today=TODAY, destination=Destination.CRIP)
    )


def test_destinations_depend_on_the_kind_of_cell() -> None:
    def check(kind: CellKind, *destinations: Destination) -> None:
        guards.destinations_allowed(
            StepFacts(today=TODAY, cell_kind=kind, destinations=destinations)
        )

    check(CellKind.CENOMED, Destination.CRIP, Destination.SCHOOL_HEAD)
    check(CellKind.RECIDIVISM, Destination.SPIP, Destination.MISSION_LOCALE, Destination.CRIP)
    with pytest.raises(InvalidStepInput, match="spip"):
        check(CellKind.CENOMED, Destination.SPIP)
    with pytest.raises(InvalidStepInput, match="once"):
        check(CellKind.CENOMED, Destination.CRIP, Destination.CRIP)
    with pytest.raises(InvalidStepInput, match="at least one"):
        check(CellKind.CENOMED)


def test_informed_on_lies_between_receipt_and_today() -> None:
    guards.check_informed_on(TODAY, date(2026, 5, 1), TODAY)
    with pytest.raises(InvalidStepInput):
        guards.check_informed_on(date(2026, 6, 16), date(2026, 5, 1), TODAY)
    with pytest.raises(InvalidStepInput):
        guards.check_informed_on(date(2026, 4, 30), date(2026, 5, 1), TODAY)
