"""The caller's notification settings (issue 18): the same schema and service function as
``PUT /api/v1/me/notifications``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from app.audit.context import audited_as
from app.audit.trail import Action
from app.config import CurrentSettings
from app.db import DbSession
from app.directory import service as directory_service
from app.directory.schemas import NotificationsIn
from app.errors import InvalidInput
from app.vocabulary import NotifyMode
from app.web.deps import CheckedForm, WebPrincipal
from app.web.forms import text
from app.web.rendering import page

router = APIRouter(include_in_schema=False)
NOTIFICATIONS = "/compte/notifications"
MODES = {
    NotifyMode.IMMEDIATE: "Au fil de l'eau (regroupées sur quelques minutes)",
    NotifyMode.DAILY: "Un récapitulatif par jour, à 8 h",
    NotifyMode.NONE: "Aucune notification",
}


@router.get(NOTIFICATIONS)
def notifications_page(
    request: Request, principal: WebPrincipal, session: DbSession, settings: CurrentSettings
) -> HTMLResponse:
    email, mode = directory_service.notification_settings(session, principal.user_id)
    return page(
        request,
        "notifications.html",
        {
            "principal": principal,
            "email": email,
            "mode": mode,
            "modes": MODES,
            "enabled": settings.notifications_enabled,
            "saved": request.query_params.get("enregistre") == "1",
        },
    )


@router.post(NOTIFICATIONS, dependencies=[audited_as(Action.SET_NOTIFICATIONS)])
def set_notifications(
    form: CheckedForm, principal: WebPrincipal, session: DbSession
) -> RedirectResponse:
    try:
        choice = NotificationsIn.model_validate({"mode": text(form, "mode")})
    except ValidationError:
        raise InvalidInput("Choose immediate, daily or none.", slug="validation-error") from None
    directory_service.set_notify_mode(session, principal=principal, mode=choice.mode)
    return RedirectResponse(NOTIFICATIONS + "?enregistre=1", status_code=303)
