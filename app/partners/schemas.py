from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.schemas import OrganisationName, StrictInput
from app.vocabulary import Destination


class ServiceCreate(StrictInput):
    name: OrganisationName
    destination: Destination


class ServiceUpdate(StrictInput):
    """JSON Merge Patch of a service: what is given changes."""

    name: OrganisationName | None = None
    destination: Destination | None = None
    active: bool | None = None


class ServiceRead(BaseModel):
    id: int
    cell_id: int
    name: str
    destination: Destination
    active: bool
    created_at: datetime
    updated_at: datetime


class ServiceNamed(BaseModel):
    """The service an orientation names, as a case shows it."""

    id: int
    name: str
