"""Example cases for the demo cell, with invented people, driven through the service layer."""

from __future__ import annotations

from datetime import date, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cases import service
from app.cases.models import Case
from app.cases.schemas import CaseCreate, MinorIn
from app.clock import today
from app.crypto.vault import Vault
from app.directory.service import load_principal
from app.meetings import service as meetings
from app.meetings.schemas import MeetingCreate
from app.principal import Principal
from app.vocabulary import Motif, Sex


def _as(session: Session, username: str, charter_version: str) -> Principal:
    principal = load_principal(session, username, charter_version=charter_version)
    assert principal is not None, username
    return principal


def _submit(
    session: Session,
    vault: Vault,
    who: Principal,
    cell_id: int,
    names: tuple[str, str],
    born: date,
    ago: int,
) -> Case:
    data = CaseCreate(
        cell_id=cell_id,
        motifs=[Motif.ABSENTEEISM, Motif.NIGHT_PRESENCE],
        facts="Exemple fictif : absences répétées signalées depuis la rentrée.",
        minor=MinorIn(last_name=names[0], first_name=names[1], birth_date=born, sex=Sex.F),
    )
    # Sent ``ago`` days ago, as the member would have then: received that day.
    return service.submit_case(
        session,
        principal=who,
        vault=vault,
        data=data,
        today=today() - timedelta(days=ago),
        received_on_max_days=0,
    )


def seed_cases(session: Session, *, vault: Vault, cell_id: int, charter_version: str) -> None:
    """Three example situations at different steps, once (skipped if the cell has cases)."""
    if session.scalar(select(func.count()).select_from(Case).where(Case.cell_id == cell_id)):
        return
    on = today()
    coordinator = _as(session, "demo-coordinator", charter_version)
    parquet = _as(session, "demo-parquet", charter_version)
    police = _as(session, "demo-police", charter_version)
    education = _as(session, "demo-education", charter_version)

    _submit(session, vault, police, cell_id, ("Fictif", "Camille"), date(on.year - 14, 3, 2), 2)

    retained = _submit(
        session, vault, education, cell_id, ("Exemple", "Noé"), date(on.year - 13, 6, 9), 40
    )
    service.refer_to_parquet(session, principal=coordinator, case_id=retained.id, today=on)
    service.decide_parquet(session, principal=parquet, case_id=retained.id, retained=True, today=on)
    service.add_research_note(
        session,
        principal=education,
        vault=vault,
        case_id=retained.id,
        content="Exemple fictif : échange avec le chef d'établissement, suivi à proposer.",
        today=on,
    )

    dismissed = _submit(
        session, vault, police, cell_id, ("Démo", "Inès"), date(on.year - 15, 1, 20), 10
    )
    service.refer_to_parquet(session, principal=coordinator, case_id=dismissed.id, today=on)
    service.decide_parquet(
        session, principal=parquet, case_id=dismissed.id, retained=False, today=on
    )

    meetings.create_meeting(
        session,
        principal=coordinator,
        data=MeetingCreate(
            cell_id=cell_id, held_on=on, starts_at=time(14, 30), place="Mairie du 18e, salle 2"
        ),
        today=on,
        meeting_record_days=0,
    )
