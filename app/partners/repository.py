"""Queries on a cell's partner services."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.partners.models import PartnerService


def services_of(
    session: Session, *, cell_id: int, active_only: bool = False
) -> Sequence[PartnerService]:
    query = select(PartnerService).where(PartnerService.cell_id == cell_id)
    if active_only:
        query = query.where(PartnerService.active.is_(True))
    return session.scalars(
        query.order_by(PartnerService.destination, PartnerService.name, PartnerService.id)
    ).all()


def get_service(session: Session, service_id: int) -> PartnerService | None:
    return session.get(PartnerService, service_id)


def named(session: Session, *, cell_id: int, destination: str, name: str) -> PartnerService | None:
    return session.scalar(
        select(PartnerService).where(
            PartnerService.cell_id == cell_id,
            PartnerService.destination == destination,
            PartnerService.name == name,
        )
    )
