"""What a notification e-mail says: counts by kind and cell, a link, a meeting's day, time and
place. Nothing else reaches a mail server (see the package's docstring)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import format_datetime

from app.config import Settings
from app.notifications import calendar
from app.notifications.models import Notification, NotificationMessage
from app.vocabulary import MEETING_NOTIFICATIONS, NotificationKind

# (singular, plural) of each count's sentence.
_SENTENCES: dict[NotificationKind, tuple[str, str]] = {
    NotificationKind.NEW_CASE: (
        "1 nouveau signalement attend votre décision",
        "{n} nouveaux signalements attendent votre décision",
    ),
    NotificationKind.PARQUET_REFERRAL: (
        "1 situation transmise au parquet attend votre décision",
        "{n} situations transmises au parquet attendent votre décision",
    ),
    NotificationKind.TRANSMISSION: (
        "1 transmission aux services sociaux vous est adressée",
        "{n} transmissions aux services sociaux vous sont adressées",
    ),
    NotificationKind.CASE_RETURNED: (
        "1 de vos signalements vous est retourné pour être complété",
        "{n} de vos signalements vous sont retournés pour être complétés",
    ),
    NotificationKind.TRANSFER_PROPOSED: (
        "1 transfert de situation vers votre cellule attend votre réponse",
        "{n} transferts de situation vers votre cellule attendent votre réponse",
    ),
    NotificationKind.FEEDBACK_OVERDUE: (
        "1 retour attendu d'un service saisi est en retard",
        "{n} retours attendus de services saisis sont en retard",
    ),
}
_MEETING_SUBJECTS = {
    NotificationKind.MEETING_SCHEDULED: "Réunion convoquée",
    NotificationKind.MEETING_CHANGED: "Réunion modifiée",
    NotificationKind.MEETING_CANCELLED: "Réunion annulée",
}
_WHY = (
    "Ce message ne contient volontairement aucune donnée nominative : ni nom, ni date de\n"
    "naissance, ni adresse, ni référence de dossier, ni motif. Elles ne sortent pas du service\n"
    "(charte déontologique, article L.132-5 du code de la sécurité intérieure).\n"
    "Vos préférences de notification : {settings_link}\n"
)


def message_id_of(message: NotificationMessage) -> str:
    """Fixed when the message is made: a retry, even after a crash, carries the same one."""
    return f"<{message.id.hex}@cenomed>"


def _sentence(kind: NotificationKind, count: int) -> str:
    singular, plural = _SENTENCES[kind]
    return singular if count == 1 else plural.format(n=count)


def _base(settings: Settings) -> str:
    return settings.public_url.rstrip("/")


def compose(
    *,
    settings: Settings,
    message: NotificationMessage,
    notifications: Sequence[Notification],
    cell_names: dict[int, str],
    address: str,
) -> EmailMessage:
    """The e-mail of a message, the same at every attempt (its Date is the message's)."""
    email = EmailMessage()
    email["From"] = settings.smtp_from
    email["To"] = address
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message_id_of(message)
    email["Auto-Submitted"] = "auto-generated"
    link = _base(settings) + "/"
    why = _WHY.format(settings_link=_base(settings) + "/compte/notifications")
    first = notifications[0]
    if len(notifications) == 1 and NotificationKind(first.kind) in MEETING_NOTIFICATIONS:
        _meeting(email, settings, first, cell_names[first.cell_id], address, link, why)
        return email
    counts = Counter((NotificationKind(n.kind), n.cell_id) for n in notifications)
    total = sum(counts.values())
    email["Subject"] = (
        "cenomed : 1 élément vous attend"
        if total == 1
        else f"cenomed : {total} éléments vous attendent"
    )
    lines = [
        f"- {cell_names[cell_id]} : {_sentence(kind, count)}."
        for (kind, cell_id), count in sorted(
            counts.items(), key=lambda item: (item[0][1], item[0][0])
        )
    ]
    email.set_content(
        "Bonjour,\n\nDans cenomed :\n"
        + "\n".join(lines)
        + f"\n\nPour les consulter : {link}\n\n--\n"
        + why
    )
    return email


def _meeting(
    email: EmailMessage,
    settings: Settings,
    notification: Notification,
    cell_name: str,
    address: str,
    link: str,
    why: str,
) -> None:
    kind = NotificationKind(notification.kind)
    held_on = notification.meeting_on
    assert held_on is not None  # a meeting notification always has its day
    assert notification.meeting_id is not None
    day = held_on.strftime("%d/%m/%Y")
    at = notification.meeting_starts_at
    when = f"le {day} à {at.strftime('%H:%M')}" if at else f"le {day}"
    email["Subject"] = f"cenomed : {_MEETING_SUBJECTS[kind]} — cellule {cell_name}, {when}"
    place = notification.meeting_place or "(lieu non précisé)"
    what = {
        NotificationKind.MEETING_SCHEDULED: "Une réunion de la cellule est convoquée",
        NotificationKind.MEETING_CHANGED: "La réunion de la cellule a changé",
        NotificationKind.MEETING_CANCELLED: "La réunion de la cellule est annulée",
    }[kind]
    email.set_content(
        f"Bonjour,\n\n{what} : cellule {cell_name}, {when}, lieu : {place}.\n\n"
        f"Ordre du jour et participants dans cenomed : {link}\n\n--\n{why}"
    )
    cancelled = kind is NotificationKind.MEETING_CANCELLED
    ics = calendar.invitation(
        meeting_id=notification.meeting_id,
        sequence=notification.meeting_sequence or 0,
        cancelled=cancelled,
        cell_name=cell_name,
        held_on=held_on,
        starts_at=at,
        place=notification.meeting_place,
        organiser=settings.smtp_from,
        attendee=address,
        stamp=notification.created_at,
        link=link,
    )
    method = "CANCEL" if cancelled else "REQUEST"
    email.add_attachment(
        ics,
        maintype="text",
        subtype="calendar",
        filename="reunion.ics",
        params={"method": method},
    )
