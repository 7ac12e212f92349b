"""The admin console's API bodies (issue 19), shared by its pages: ids, roles, organisations
and cells, never a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from app.schemas import RowId, StrictInput
from app.vocabulary import CellKind, Organisation, Role

# An account's name is a token's subject: one word, no space nor control character.
Username = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=r"^\S+$")
]
CellName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
# The address is checked by app.directory.service.check_email (slug invalid-email).
Email = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=254)]


class UserRead(BaseModel):
    id: int
    username: str
    role: Role
    organisation: Organisation
    active: bool
    cells: list[int]
    email: str | None
    has_password: bool = Field(description="Whether the local sign-in has a password set")
    created_at: datetime
    deactivated_at: datetime | None


class UserPage(BaseModel):
    items: list[UserRead]
    next_cursor: str | None = Field(
        description="Pass it as ?cursor= for the next page; null on the last one"
    )


class UserCreate(StrictInput):
    username: Username
    role: Role
    organisation: Organisation | None = Field(
        default=None, description="Required for members; implied by the institutional roles"
    )
    cells: list[RowId] = Field(default_factory=list, max_length=40)
    email: Email | None = None


class UserPatch(StrictInput):
    """A JSON Merge Patch: the fields given change; ``email: null`` removes the address."""

    role: Role | None = None
    organisation: Organisation | None = None
    cells: list[RowId] | None = Field(default=None, max_length=40)
    email: Email | None = None


class PasswordResetRead(BaseModel):
    """Shown once: the service keeps only the SHA-256 of the link's token."""

    url: str
    expires_at: datetime


class CellRead(BaseModel):
    id: int
    name: str
    kind: CellKind
    arrondissement: int


class CellCreate(StrictInput):
    name: CellName
    kind: CellKind
    arrondissement: int = Field(ge=1, le=20)


class CellPatch(StrictInput):
    name: CellName | None = None
    kind: CellKind | None = None


class CharterAccountRead(BaseModel):
    id: int
    username: str
    role: Role
    organisation: Organisation
    accepted_at: datetime | None = Field(description="null: not accepted yet")


class CharterRead(BaseModel):
    version: str
    accepted: int
    not_accepted: int
    accounts: list[CharterAccountRead] = Field(description="Every active account")
