from __future__ import annotations

from pydantic import BaseModel

from app.vocabulary import Organisation, Role


class MeRead(BaseModel):
    id: int
    username: str
    role: Role
    organisation: Organisation
    cells: list[int]
