from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas import StrictInput
from app.vocabulary import Organisation, Role


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


class CharterAcceptanceIn(StrictInput):
    version: str = Field(min_length=1, max_length=40)
