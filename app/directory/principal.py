from __future__ import annotations

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

    def is_member_of(self, cell_id: int) -> bool:
        return cell_id in self.cell_ids
