"""Acceptance: the six steps of fiche 1.3 over HTTP, as the right user at each step."""

from __future__ import annotations

from datetime import timedelta

from app.clock import today
from tests.conftest import World
from tests.scenario import FIRST_NAME, LAST_NAME, meeting, ok, submit


def test_a_case_goes_through_the_six_steps(world: World) -> None:
    coordinator, parquet = world.as_("coordinator"), world.as_("parquet")
    police, teacher, cst = world.as_("police"), world.as_("teacher"), world.as_("cst")

    # Step 1: a police member sends the situation to the coordinator.
    case_id = submit(world, by="police")
    case = ok(coordinator.get(f"/cases/{case_id}"))
    assert case["state"] == "submitted"
    assert case["origin"] == "police"
    assert case["minor"]["last_name"] == LAST_NAME
    assert case["withheld"] == []

    # Step 2: the coordinator refers it to the parquet, which retains it.
    assert ok(coordinator.post(f"/cases/{case_id}/parquet-referral"))["state"] == "parquet_review"
    decided = ok(parquet.post(f"/cases/{case_id}/parquet-decision", {"retained": True}))
    assert decided["state"] == "research"
    assert decided["parquet"]["retained"] is True

    # Step 3: members research; the school member's note is shared.
    note = teacher.post(f"/cases/{case_id}/research-notes", {"content": "Connu du collège."})
    assert note.status_code == 201
    assert ok(police.post(f"/cases/{case_id}/research-notes", {"content": "Deux mains courantes."}))

    # Step 4: at a meeting held more than a month after receipt.
    meeting_id = meeting(world)
    shown = ok(coordinator.post(f"/meetings/{meeting_id}/cases", {"case_id": case_id}))
    assert [item["case_id"] for item in shown["agenda"]] == [case_id]
    assert ok(teacher.get(f"/cases/{case_id}"))["state"] == "cell_review"
    notes = ok(teacher.get(f"/cases/{case_id}"))["research_notes"]
    assert {n["content"] for n in notes} == {"Connu du collège.", "Deux mains courantes."}

    # Step 5: oriented to social services and the CRIP; family informed; transmissions.
    oriented = ok(
        coordinator.post(
            f"/cases/{case_id}/review-decision",
            {
                "decision": "orient",
                "orientations": [{"destination": "social_services"}, {"destination": "crip"}],
            },
        )
    )
    assert oriented["state"] == "oriented"
    ids = {o["destination"]: o["id"] for o in oriented["orientations"]}
    informed = {"informed_on": today().isoformat(), "means": "letter", "outcome": "informed"}
    ok(coordinator.post(f"/cases/{case_id}/family-information", informed))
    for orientation_id in ids.values():
        sent = ok(coordinator.post(f"/cases/{case_id}/orientations/{orientation_id}/transmission"))
    assert all(o["transmitted_at"] for o in sent["orientations"])

    # Step 6: the CST reports for social services, the coordinator for the CRIP.
    fed = ok(
        cst.post(
            f"/cases/{case_id}/orientations/{ids['social_services']}/feedback",
            {"outcome": "support_in_place"},
        )
    )
    assert fed["state"] == "feedback"
    ok(
        coordinator.post(
            f"/cases/{case_id}/orientations/{ids['crip']}/feedback",
            {"outcome": "reoriented", "reoriented_to": "medico_social"},
        )
    )
    closed = ok(coordinator.post(f"/cases/{case_id}/closure", {"reason": "feedback_received"}))
    assert closed["state"] == "closed"
    # R17: the archive is read only through a motivated, time-limited access.
    assert "feedback" in closed["withheld"]
    reason = {"reason": "Retour de la CRIP à examiner lors de la prochaine cellule."}
    ok(coordinator.post(f"/cases/{case_id}/archive-access", reason))
    closed = ok(coordinator.get(f"/cases/{case_id}"))
    assert {f["outcome"] for f in closed["feedback"]} == {"support_in_place", "reoriented"}
    assert [h["step"] for h in closed["history"]] == [
        "submit",
        "refer_to_parquet",
        "retain",
        "add_research_note",
        "add_research_note",
        "examine_at_meeting",
        "orient",
        "record_family_information",
        "transmit",
        "transmit",
        "record_feedback",
        "record_feedback",
        "close",
    ]


def test_a_not_retained_case_is_presented_at_the_meeting_and_records_nothing_more(
    world: World,
) -> None:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    dismissed = ok(
        world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False})
    )
    assert dismissed["state"] == "not_retained"
    assert dismissed["parquet"]["retained"] is False
    as_recorded = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert as_recorded["research_notes"] == []
    assert as_recorded["orientations"] == []

    meeting_id = meeting(world)
    seen_by_member = ok(world.as_("teacher").get(f"/meetings/{meeting_id}"))
    assert seen_by_member["agenda"] == []
    [presented] = seen_by_member["not_retained"]
    assert presented["case_id"] == case_id
    assert presented["not_retained"] is True
    assert presented["minor"] == {
        "last_name": LAST_NAME,
        "first_name": FIRST_NAME,
        "birth_date": presented["minor"]["birth_date"],
    }
    # The CST is the expert of social services, not of the situations (R13): nothing of it.
    assert ok(world.as_("cst").get(f"/meetings/{meeting_id}"))["not_retained"] == []


def test_a_meeting_planned_later_does_not_show_not_retained_identities_yet(world: World) -> None:
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    later = meeting(world, held_on=today() + timedelta(days=10))
    # Before the day, a member sees nothing of it (as a direct read); its submitter sees
    # the mark of a case of theirs, not the identity.
    assert ok(world.as_("teacher").get(f"/meetings/{later}"))["not_retained"] == []
    [item] = ok(world.as_("police").get(f"/meetings/{later}"))["not_retained"]
    assert (item["case_id"], item["minor"], item["withheld"]) == (case_id, None, ["identity"])


def test_no_action_decision_closes_the_case(world: World) -> None:
    from tests.scenario import to_cell_review

    case_id = to_cell_review(world)
    closed = ok(
        world.as_("coordinator").post(
            f"/cases/{case_id}/review-decision", {"decision": "no_action"}
        )
    )
    assert closed["state"] == "closed"
    assert closed["withheld"] == [
        "workflow",
        "identity",
        "contact",
        "facts",
        "research",
        "orientation",
        "feedback",
    ]
    reason = {"reason": "Vérification de la décision prise en cellule ce mois-ci."}
    ok(world.as_("coordinator").post(f"/cases/{case_id}/archive-access", reason))
    archived = ok(world.as_("coordinator").get(f"/cases/{case_id}"))
    assert archived["review_decision"] == "no_action"
    assert archived["closed_at"] is not None


def test_the_coordinator_enters_a_situation_for_another_structure(world: World) -> None:
    response = world.as_("coordinator").post(
        "/cases", _body(world, origin="social_landlord", received_via="phone")
    )
    case = ok(response)
    assert case["origin"] == "social_landlord"
    assert case["received_on"] == today().isoformat()


def test_a_recidivism_group_takes_young_adults(world: World) -> None:
    from app.vocabulary import CellKind, Organisation, Role

    with world.db() as session:
        from app.directory import service

        group = service.create_cell(
            session, name="Récidive 19e", kind=CellKind.RECIDIVISM, arrondissement=19
        )
    world.add_user("pjj-member", Role.MEMBER, Organisation.PJJ, cells=[group.id])
    body = _body(world, cell_id=group.id)
    body["minor"]["birth_date"] = f"{today().year - 22}-02-01"
    assert ok(world.as_("pjj-member").post("/cases", body))["state"] == "submitted"


def test_possible_duplicates_link_cases_of_the_same_person(world: World) -> None:
    first = submit(world, by="police")
    body = _body(world)
    body["minor"]["last_name"] = LAST_NAME.upper()
    body["minor"]["first_name"] = " " + FIRST_NAME.lower()
    second = ok(world.as_("teacher").post("/cases", body))["id"]
    assert ok(world.as_("coordinator").get(f"/cases/{first}"))["possible_duplicates"] == [second]
    assert ok(world.as_("coordinator").get(f"/cases/{second}"))["possible_duplicates"] == [first]


def test_invisible_characters_do_not_hide_a_duplicate(world: World) -> None:
    """A zero-width space or a right-to-left override inside "ZYXWAVEL" hides nothing: the
    same person, linked both ways. A space still makes another name ("Zyx Wavel")."""
    first = submit(world, by="police")
    later = []
    for last_name in ("ZYX\u200bWAVEL", "Zyx\u202ewavel", "ZYXWAVEL\u2060"):
        body = _body(world)
        body["minor"]["last_name"] = last_name
        later.append(ok(world.as_("teacher").post("/cases", body))["id"])
    body = _body(world)
    body["minor"]["last_name"] = "Zyx Wavel"
    apart = ok(world.as_("teacher").post("/cases", body))["id"]
    coordinator = world.as_("coordinator")
    for case_id in [first, *later]:
        others = {first, *later} - {case_id}
        assert set(coordinator.get(f"/cases/{case_id}").json()["possible_duplicates"]) == others
    assert coordinator.get(f"/cases/{apart}").json()["possible_duplicates"] == []


def test_the_list_is_paginated_and_filtered_by_cell_and_state(world: World) -> None:
    created = [submit(world, by="police") for _ in range(5)]
    coordinator = world.as_("coordinator")
    ok(coordinator.post(f"/cases/{created[0]}/parquet-referral"))

    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = ok(coordinator.get("/cases", params=params))
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created)
    assert len(seen) == len(set(seen))

    in_review = ok(coordinator.get("/cases", params={"state": "parquet_review"}))["items"]
    assert [item["id"] for item in in_review] == [created[0]]
    # Another cell's coordinator sees none of them.
    assert ok(world.as_("coordinator-19").get("/cases"))["items"] == []


def test_the_list_skips_cases_the_charter_hides(world: World) -> None:
    own = submit(world, by="police")
    submit(world, by="teacher")
    items = ok(world.as_("police").get("/cases"))["items"]
    assert [item["id"] for item in items] == [own]
    assert "minor" not in items[0]


def _body(world: World, **overrides: object) -> dict[str, object]:
    from tests.scenario import case_body

    body = case_body(world.cell.id)
    for key, value in overrides.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def test_a_not_retained_situation_is_presented_at_one_meeting_only(world: World) -> None:
    first_meeting = meeting(world)
    case_id = submit(world)
    ok(world.as_("coordinator").post(f"/cases/{case_id}/parquet-referral"))
    ok(world.as_("parquet").post(f"/cases/{case_id}/parquet-decision", {"retained": False}))
    # Decided after the meeting was scheduled: presented at that (next) meeting.
    [item] = ok(world.as_("parquet").get(f"/meetings/{first_meeting}"))["not_retained"]
    assert item["case_id"] == case_id
    assert item["minor"]["last_name"] == LAST_NAME
    later = meeting(world, held_on=today() + timedelta(days=30))
    assert ok(world.as_("parquet").get(f"/meetings/{later}"))["not_retained"] == []
