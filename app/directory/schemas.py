from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas import StrictInput
from app.vocabulary import NotifyMode, Organisation, Role


class CharterStatus(BaseModel):
    current_version: str
    accepted: bool


class MeRead(BaseModel):
    id: int
    username: str
    role: Role
    organisation: Organisation
    cells: list[int]
    charter: CharterStatus
    # Issue 18: where notifications go (set by the administrator) and how often.
    email: str | None = None
    notify_mode: NotifyMode = NotifyMode.IMMEDIATE


class CharterAcceptanceIn(StrictInput):
    version: str = Field(min_length=1, max_length=40)


class NotificationsIn(StrictInput):
    """The caller's choice of e-mail notifications (the API and the settings page alike)."""

    mode: NotifyMode
