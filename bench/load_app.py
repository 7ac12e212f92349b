"""The service as it runs, plus two baseline endpoints that exist only in the benchmark.

    python -m uvicorn bench.load_app:create_app --factory --workers 2 ...

``GET /api/v1/bench/baseline/cases/{case_id}`` reads one case row by primary key (id, state,
version) through the same session machinery as every route (``app.state.sessionmaker``, the
request's unit of work, its commit): no token, no decryption, no policy, no audit event.
``GET /api/v1/bench/baseline-auth/cases/{case_id}`` does the same after the API's bearer-token
authentication (``app.auth.get_principal``: the signature, the account, its cells, the charter,
its archive accesses), so that the cost of authentication shows apart. Both answer the worker's
process id too, which the driver uses to spread its connections over the workers.

The production application (``app.main.create_app``) never has these routes.
"""

from __future__ import annotations

import os
import uuid

from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from sqlalchemy import select

from app.auth import CurrentPrincipal
from app.cases.models import Case
from app.db import DbSession
from app.errors import NotFound
from app.main import API_PREFIX
from app.main import create_app as create_service


class BaselineRead(BaseModel):
    id: uuid.UUID
    state: str
    version: int
    worker: int


def _row(session: DbSession, case_id: uuid.UUID) -> BaselineRead:
    row = session.execute(
        select(Case.id, Case.state, Case.version).where(Case.id == case_id)
    ).one_or_none()
    if row is None:
        raise NotFound("No case with this id.", slug="case-not-found")
    return BaselineRead(id=row.id, state=row.state, version=row.version, worker=os.getpid())


def create_app() -> FastAPI:
    app = create_service()
    bench = APIRouter(prefix=f"{API_PREFIX}/bench", tags=["bench"])

    @bench.get("/baseline/cases/{case_id}", response_model=BaselineRead)
    def baseline(case_id: uuid.UUID, session: DbSession) -> BaselineRead:
        return _row(session, case_id)

    @bench.get("/baseline-auth/cases/{case_id}", response_model=BaselineRead)
    def baseline_auth(
        case_id: uuid.UUID, _principal: CurrentPrincipal, session: DbSession
    ) -> BaselineRead:
        return _row(session, case_id)

    app.include_router(bench)
    return app
