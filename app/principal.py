"""Who is calling: the identity authentication produces, which audit, policy and services read.

It lives with the authentication foundations, not in `directory/`, which only fills it in."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.vocabulary import Organisation, Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the service's own directory knows them at this request."""

    user_id: int
    username: str
    role: Role
    organisation: Organisation
    cell_ids: frozenset[int]
    # R1: has accepted the current version of the charter.
    charter_accepted: bool
    # R17: closed cases this user may read now (a motivated, time-limited archive access).
    archive_case_ids: frozenset[uuid.UUID]

    def is_member_of(self, cell_id: int) -> bool:
        return cell_id in self.cell_ids
