from __future__ import annotations

from fastapi import APIRouter

from app.auth import CurrentPrincipal
from app.directory.schemas import MeRead
from app.errors import responses

router = APIRouter(tags=["account"])


@router.get("/me", response_model=MeRead, responses=responses(401), summary="Your account")
def me(principal: CurrentPrincipal) -> MeRead:
    return MeRead(
        id=principal.user_id,
        username=principal.username,
        role=principal.role,
        organisation=principal.organisation,
        cells=sorted(principal.cell_ids),
    )
