"""A case's page and the forms on it.

The page shows the blocks the charter lets this user see, and offers exactly the steps the
charter and the procedure both allow now: each offer is computed by the functions the step
itself runs (``app.policy.decisions`` and ``app.cases.service``'s facts and
:func:`~app.cases.service.allows`), never by a rule of the page's own. A step the charter
lets this user take but a guard refuses now is not offered: the page says instead when it
will be possible, from the guard's refusal (:func:`~app.cases.service.guard_refusal`, its
slug and day, worded by ``labels.WAITING``); a step the charter never lets them take is not
mentioned.

Every form goes through the API's schema and service function. A refusal (a value refused,
or a step the procedure refuses now) brings the page back where it was, with each error on
its field and what was typed, nothing changed, the refusal logged. The irreversible steps
(the parquet's decision, the review decision, a transmission, a closure) first show what will
happen and ask for a second, explicit submit. A step done leads to the case page saying so,
or, when the step took the case out of the user's sight (a closure), to their list saying so.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from app.audit import service as audit
from app.audit import trail
from app.audit.context import audited_as
from app.audit.trail import Action, Actor
from app.cases import corrections, movements, service
from app.cases import repository as case_repository
from app.cases.models import Case, Orientation
from app.cases.schemas import (
    ArchiveAccessIn,
    ClosureIn,
    DuplicateDecisionIn,
    FamilyInformationIn,
    FeedbackIn,
    OrientationIn,
    ParquetDecisionIn,
    ResearchNoteIn,
    ReturnIn,
    ReviewDecisionIn,
    TransferDecisionIn,
    TransferIn,
    WithdrawalIn,
)
from app.cases.serialise import case_read
from app.clock import Today
from app.config import CurrentSettings, Settings
from app.crypto.dependency import CurrentVault
from app.crypto.vault import Vault
from app.db import DbSession
from app.directory import repository as directory
from app.errors import Conflict, InvalidInput
from app.operations import metrics
from app.partners import repository as partners
from app.policy import decisions
from app.policy.visibility import case_view
from app.principal import Principal
from app.vocabulary import (
    DESTINATIONS_BY_KIND,
    CellKind,
    ClosureReason,
    Destination,
    DuplicateDecision,
    FamilyOutcome,
    FeedbackOutcome,
    InformationMeans,
    ReorientedTo,
    ReturnReason,
    ReviewDecision,
    TransferDecision,
    WithdrawalReason,
)
from app.web import labels
from app.web.deps import CheckedForm, WebPrincipal
from app.web.errors import ARCHIVE_ACCESS_REQUIRED
from app.web.forms import SentBack, field_errors, first_part, refusal_errors, text, texts
from app.web.labels import choices, label
from app.web.rendering import page
from app.web.returns import HOME
from app.workflow.guards import GuardFailed, StepFacts
from app.workflow.machine import possible_steps
from app.workflow.states import CaseState, Step

router = APIRouter(include_in_schema=False)
CONFIRMED = "confirme"  # the second, explicit submit of an irreversible step
# Issue 16's steps: the page offers them through moves(), with what each needs.
MOVES = frozenset(
    {
        Step.DECIDE_DUPLICATE,
        Step.CLOSE_AS_DUPLICATE,
        Step.PROPOSE_TRANSFER,
        Step.ACCEPT_TRANSFER,
        Step.DECLINE_TRANSFER,
        Step.SEE_PENDING_TRANSFER,
    }
)


# --- what the page offers ---------------------------------------------------------------------


@dataclass
class Offers:
    """The steps this user may take on this case now, as the charter and the procedure decide
    (the same functions the steps run)."""

    steps: set[str] = field(default_factory=set)
    transmissions: list[uuid.UUID] = field(default_factory=list)
    feedback: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    closure_reasons: list[ClosureReason] = field(default_factory=list)
    # The research notes this user may amend now (their own, during the research).
    note_edits: list[uuid.UUID] = field(default_factory=list)
    # The coordinator reads the values amendments replaced (R10).
    revisions: bool = False
    # Steps this user may take that a guard refuses now: when each will be possible.
    waiting: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(
            self.steps
            or self.transmissions
            or self.feedback
            or self.closure_reasons
            or self.note_edits
        )


def offers(session: Session, principal: Principal, case: Case, today: date) -> Offers:
    facts = service.facts_of(case)
    found = Offers()

    def wait(refusal: GuardFailed | None, destination: str | None = None) -> None:
        """A step this user may take, refused now by a guard: when it will be possible."""
        if refusal is None:
            return
        sentence = labels.waiting(refusal.slug, day=refusal.day, destination=destination)
        if sentence is not None and sentence not in found.waiting:
            found.waiting.append(sentence)

    for step in possible_steps(CaseState(case.state)):
        if step in MOVES:
            continue  # offered by moves() (issue 16)
        if step is Step.RECORD_FEEDBACK:
            # Who reports depends on each orientation's destination.
            for o in case.orientations:
                if not decisions.may_step(principal, step, facts, Destination(o.destination)):
                    continue
                feedback = service.feedback_facts(o, today)
                if service.allows(step, case, feedback):
                    found.feedback.append((o.id, o.destination))
                else:
                    wait(service.guard_refusal(step, case, feedback), o.destination)
            continue
        if not decisions.may_step(principal, step, facts):
            continue
        if step is Step.TRANSMIT:
            for o in case.orientations:
                transmission = service.transmission_facts(session, case, o, today)
                if service.allows(step, case, transmission):
                    found.transmissions.append(o.id)
                else:
                    wait(service.guard_refusal(step, case, transmission), o.destination)
        elif step in (Step.ORIENT, Step.CLOSE_WITHOUT_ACTION):
            review = service.review_facts(session, case, today)
            if service.allows(step, case, review):
                found.steps.add(step.value)
            else:
                wait(service.guard_refusal(step, case, review))
        elif step is Step.EXAMINE_AT_MEETING:
            # Put on a meeting's agenda from the meetings' page; here, whether a meeting held
            # today could examine it (R7's month), and if not from which day one could.
            found.steps.add(step.value)
            today_meeting = StepFacts(
                today=today, received_on=case.received_on, meeting_held_on=today
            )
            wait(service.guard_refusal(step, case, today_meeting))
        elif step is Step.CLOSE:
            found.closure_reasons = service.closure_reasons_open(session, case, today)
        elif step is Step.RECORD_FAMILY_INFORMATION:
            if service.allows(step, case, service.family_information_facts(case, today)):
                found.steps.add(step.value)
        elif step in (Step.REFER_TO_PARQUET, Step.RETURN_TO_AUTHOR):
            if service.allows(step, case, service.receipt_facts(case, today)):
                found.steps.add(step.value)
        elif step is Step.AMEND_RESEARCH_NOTE:
            found.note_edits = [
                n.id for n in case.research_notes if n.author_id == principal.user_id
            ]
        elif step is Step.CORRECT_IDENTITY:
            found.steps.add(Step.AMEND.value)  # one correction page for both
        else:
            found.steps.add(step.value)
    found.revisions = CaseState(case.state) not in (
        CaseState.PURGED,
        CaseState.CLOSED,
    ) and decisions.may_step(principal, Step.READ_REVISIONS, facts)
    return found


def _services_by_destination(session: Session, cell_id: int) -> dict[str, list[tuple[int, str]]]:
    """The cell's active partner services, by destination: the choices of an orientation."""
    listed: dict[str, list[tuple[int, str]]] = {}
    for found in partners.services_of(session, cell_id=cell_id, active_only=True):
        listed.setdefault(found.destination, []).append((found.id, found.name))
    return listed


def _case_page(
    request: Request,
    session: Session,
    principal: Principal,
    vault: Vault,
    on: date,
    case_id: uuid.UUID,
    *,
    sent: SentBack | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The case as the charter shows it to this user, with the steps open to them (and a
    form sent back, if one was refused; or the step just done). An audited read."""
    visible = service.read_case(session, principal=principal, vault=vault, case_id=case_id)
    case = case_read(visible, principal)
    cell = directory.get_cell(session, visible.case.cell_id)
    kind = CellKind(cell.kind) if cell is not None else CellKind.CENOMED
    destinations = [d for d in Destination if d in DESTINATIONS_BY_KIND[kind]]
    existing = {o.destination for o in visible.case.orientations}
    return page(
        request,
        "case.html",
        {
            "principal": principal,
            "case": case,
            "cell_name": cell.name if cell is not None else "",
            "offers": offers(session, principal, visible.case, on),
            "moves": moves(session, principal, visible.case, visible.possible_duplicates, on),
            "destinations": choices(Destination, destinations),
            "other_destinations": choices(
                Destination, [d for d in destinations if d.value not in existing]
            ),
            "services": _services_by_destination(session, visible.case.cell_id),
            "means": choices(InformationMeans),
            "family_outcomes": choices(FamilyOutcome),
            "outcomes": choices(FeedbackOutcome),
            "withdrawal_reasons": choices(WithdrawalReason),
            "return_reasons": choices(ReturnReason),
            "reoriented": choices(ReorientedTo),
            "today": on.isoformat(),
            "archived": visible.case.state == CaseState.CLOSED,
            # Issue 19: "who looked at this file", as the access log's own rule decides.
            "access_log": audit.may_read_access_log(principal, visible.case.cell_id),
            "sent": sent,
            "done": done,
        },
        status_code=status_code,
    )


@router.get(HOME + "/{case_id}", dependencies=[audited_as(Action.READ_CASE)])
def case_page(
    request: Request,
    case_id: uuid.UUID,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    fait: str | None = Query(default=None, max_length=40),
) -> HTMLResponse:
    return _case_page(
        request, session, principal, vault, on, case_id, done=labels.DONE.get(fait or "")
    )


def _archive_access_page(post: CasePost, sent: SentBack, status_code: int) -> HTMLResponse:
    """Where the archive access is asked for: the page of the closed case's refusal."""
    title, message = labels.problem_text(403, ARCHIVE_ACCESS_REQUIRED)
    return page(
        post.request,
        "error.html",
        {
            "title": title,
            "message": message,
            "back": HOME,
            "back_text": labels.back_text(HOME),
            "archive_case_id": post.case_id,
            "principal": post.principal,
            "sent": sent,
        },
        status_code=status_code,
    )


# --- a step posted from the page --------------------------------------------------------------


@dataclass(frozen=True)
class Confirmation:
    """What an irreversible step will do, shown before the second submit."""

    title: str
    lines: list[str]
    button: str


@dataclass
class CasePost:
    """A form posted from a case's page: who, on which case, and the checked form."""

    request: Request
    case_id: uuid.UUID
    form: FormData
    principal: Principal
    session: Session
    vault: Vault
    on: date
    settings: Settings

    def text(self, name: str) -> str:
        return text(self.form, name)

    def step(
        self,
        name: str,
        typed: dict[str, Any],
        validate: Callable[[], Any],
        act: Callable[[Any], Case],
        *,
        done: str,
        confirm: Callable[[Any], Confirmation | None] | None = None,
        place: Callable[[tuple[str, ...]], str] = first_part,
        back: Callable[[CasePost, SentBack, int], HTMLResponse] | None = None,
        opens: bool = False,
    ) -> Response:
        """Validates what was typed with the API's schema (``validate``), asks for the second
        submit of an irreversible step (``confirm``: None when the procedure would refuse the
        step anyway, which ``act`` then says), runs the service function (``act``), then shows
        the step done (``done``, a code of ``labels.DONE``; ``opens``: the step opens the case
        to this user, as an archive access does).

        A value refused by the schema or by the procedure sends the page back where it was,
        the form named ``name`` showing ``typed`` and each error on its field: nothing is
        changed, and the refusal is an audit event (R23)."""
        try:
            data = validate()
            if confirm is not None and self.text(CONFIRMED) != "oui":
                shown = confirm(data)
                if shown is not None:
                    return self._confirmation(typed, shown)
            case = act(data)
        except ValidationError as error:
            errors = field_errors(error.errors(include_url=False, include_input=False), place)
            return self._send_back(name, typed, errors, 422, "validation-error", back)
        except (InvalidInput, Conflict) as error:
            errors = refusal_errors(error, place)
            return self._send_back(name, typed, errors, error.status, error.slug, back)
        return self._done(case, done, opens)

    def refused(self, status: int, slug: str) -> None:
        """Undoes whatever the step began and logs its refusal (R23): what every refused form
        of a case's pages does before the page comes back."""
        self.session.rollback()
        trail.record_refusal(
            self.session,
            Actor.of(self.principal),
            self.request.state.audit_action,
            status=status,
            slug=slug,
            case_id=self.case_id,
        )
        metrics.count_refusal(status, slug)

    def _confirmation(self, typed: dict[str, Any], confirmation: Confirmation) -> HTMLResponse:
        hidden = [
            (key, value)
            for key, values in typed.items()
            for value in (values if isinstance(values, list) else [values])
            if value != ""
        ]
        return page(
            self.request,
            "confirm.html",
            {
                "principal": self.principal,
                "confirmation": confirmation,
                "action": self.request.url.path,
                "hidden": hidden,
                "confirmed_field": CONFIRMED,
                "back": f"{HOME}/{self.case_id}",
            },
        )

    def _done(self, case: Case, code: str, opens: bool) -> RedirectResponse:
        """To the case, saying the step is done; to the list if the case is no longer in
        this user's sight (closed and archived: R17)."""
        visible = opens or bool(case_view(self.principal, service.facts_of(case)).blocks)
        target = f"{HOME}/{case.id}" if visible else HOME
        return RedirectResponse(f"{target}?fait={code}", status_code=303)

    def _send_back(
        self,
        name: str,
        typed: dict[str, Any],
        errors: dict[str, str],
        status: int,
        slug: str,
        back: Callable[[CasePost, SentBack, int], HTMLResponse] | None,
    ) -> HTMLResponse:
        self.refused(status, slug)
        sent = SentBack(name, typed, errors)
        if back is not None:
            return back(self, sent, status)
        return _case_page(
            self.request,
            self.session,
            self.principal,
            self.vault,
            self.on,
            self.case_id,
            sent=sent,
            status_code=status,
        )


def case_post(
    request: Request,
    case_id: uuid.UUID,
    form: CheckedForm,
    principal: WebPrincipal,
    session: DbSession,
    vault: CurrentVault,
    on: Today,
    settings: CurrentSettings,
) -> CasePost:
    return CasePost(request, case_id, form, principal, session, vault, on, settings)


CurrentCasePost = Annotated[CasePost, Depends(case_post)]


def _no_body() -> None:
    return None


# --- the steps ----------------------------------------------------------------------------------


@router.post(
    HOME + "/{case_id}/transmission-parquet", dependencies=[audited_as(Action.REFER_TO_PARQUET)]
)
def refer_to_parquet(post: CurrentCasePost) -> Response:
    return post.step(
        "referral",
        {},
        _no_body,
        lambda _: service.refer_to_parquet(
            post.session, principal=post.principal, case_id=post.case_id, today=post.on
        ),
        done="parquet",
    )


_RETAINED = {"oui": True, "non": False}


@router.post(HOME + "/{case_id}/decision-parquet", dependencies=[audited_as(Action.DECIDE_PARQUET)])
def decide_parquet(post: CurrentCasePost) -> Response:
    typed = {"retained": post.text("retained")}

    def validate() -> ParquetDecisionIn:
        answer = _RETAINED.get(typed["retained"], typed["retained"])
        return ParquetDecisionIn.model_validate({"retained": answer})

    def confirm(data: ParquetDecisionIn) -> Confirmation:
        if data.retained:
            return Confirmation(
                "Retenir la situation",
                [
                    "La situation est transmise aux membres de la cellule pour les recherches "
                    "préalables (étape 3).",
                    "Cette décision ne peut pas être annulée.",
                ],
                "Confirmer : retenir la situation",
            )
        return Confirmation(
            "Ne pas retenir la situation",
            [
                "Un suivi judiciaire est en cours : la situation sort de la procédure.",
                "Elle est présentée à la prochaine réunion de la cellule (identité et mention "
                "« non retenue » seulement, R7), puis ses données nominatives sont détruites "
                "(R18). Rien n'est enregistré du suivi judiciaire.",
                "Cette décision ne peut pas être annulée.",
            ],
            "Confirmer : ne pas retenir",
        )

    return post.step(
        "parquet",
        typed,
        validate,
        lambda data: service.decide_parquet(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            retained=data.retained,
            today=post.on,
        ),
        confirm=confirm,
        done="retenue" if typed["retained"] == "oui" else "non-retenue",
    )


@router.post(
    HOME + "/{case_id}/note-recherche", dependencies=[audited_as(Action.ADD_RESEARCH_NOTE)]
)
def add_research_note(post: CurrentCasePost) -> Response:
    typed = {"content": post.text("content")}

    def act(data: ResearchNoteIn) -> Case:
        service.add_research_note(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            content=data.content,
            today=post.on,
        )
        return service.case_of(post.session, principal=post.principal, case_id=post.case_id)

    return post.step("note", typed, lambda: ResearchNoteIn.model_validate(typed), act, done="note")


def _destinations_field(loc: tuple[str, ...]) -> str:
    return "destinations" if loc[:1] == ("orientations",) else first_part(loc)


def _service_of(post: CasePost, destination: str) -> int | None:
    """The service chosen for ``destination`` (its select, ``service_<destination>``)."""
    chosen = post.text(f"service_{destination}")
    return int(chosen) if chosen.isdigit() else None


def _service_names(post: CasePost, case_cell: int) -> dict[int, str]:
    return {s.id: s.name for s in partners.services_of(post.session, cell_id=case_cell)}


def _orientation_text(destination: Destination, service: str | None) -> str:
    where = label(Destination, destination.value)
    return f"{where} : {service}" if service else where


@router.post(
    HOME + "/{case_id}/decision-cellule", dependencies=[audited_as(Action.REVIEW_DECISION)]
)
def review_decision(post: CurrentCasePost) -> Response:
    chosen = texts(post.form, "destinations")
    typed: dict[str, Any] = {"decision": post.text("decision"), "destinations": chosen}
    typed |= {f"service_{d}": post.text(f"service_{d}") for d in chosen}

    def validate() -> ReviewDecisionIn:
        return ReviewDecisionIn.model_validate(
            {
                "decision": typed["decision"],
                "orientations": [
                    {"destination": d, "service_id": _service_of(post, d)} for d in chosen
                ],
            }
        )

    def confirm(data: ReviewDecisionIn) -> Confirmation | None:
        case = service.case_of(post.session, principal=post.principal, case_id=post.case_id)
        orient = data.decision is ReviewDecision.ORIENT
        step = Step.ORIENT if orient else Step.CLOSE_WITHOUT_ACTION
        if not service.allows(step, case, service.review_facts(post.session, case, post.on)):
            return None  # the service says why
        try:
            service.review_input(post.session, case, data, post.on)
        except InvalidInput:
            return None  # the service sends the form back with what is wrong
        if not orient:
            return Confirmation(
                "Classer sans suite",
                [
                    "La cellule ne donne pas de suite : la situation est close (motif « sans "
                    "suite ») et archivée (R17).",
                    "Cette décision ne peut pas être annulée.",
                ],
                "Confirmer : classer sans suite",
            )
        names = _service_names(post, case.cell_id)
        lines = [
            _orientation_text(o.destination, names.get(o.service_id or 0))
            for o in data.orientations
        ]
        return Confirmation(
            "Orienter la situation",
            [
                "La situation sera orientée vers : " + " ; ".join(lines) + ".",
                "Les transmissions se font ensuite une à une ; vers les services sociaux, "
                "seulement après l'information de la famille (R8).",
                "Cette décision ne peut pas être annulée.",
            ],
            "Confirmer l'orientation",
        )

    return post.step(
        "decision",
        typed,
        validate,
        lambda data: service.review_decision(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        ),
        confirm=confirm,
        done="orientee" if typed["decision"] == "orient" else "sans-suite",
        place=_destinations_field,
    )


@router.post(
    HOME + "/{case_id}/information-famille",
    dependencies=[audited_as(Action.RECORD_FAMILY_INFORMATION)],
)
def record_family_information(post: CurrentCasePost) -> Response:
    typed = {
        "informed_on": post.text("informed_on"),
        "means": post.text("means"),
        "outcome": post.text("outcome"),
    }
    return post.step(
        "family",
        typed,
        lambda: FamilyInformationIn.model_validate(typed),
        lambda data: service.record_family_information(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        ),
        done="famille",
    )


@router.post(
    HOME + "/{case_id}/orientations/nouvelle", dependencies=[audited_as(Action.ADD_ORIENTATION)]
)
def add_orientation(post: CurrentCasePost) -> Response:
    destination = post.text("destination")
    typed = {
        "destination": destination,
        f"service_{destination}": post.text(f"service_{destination}"),
    }
    return post.step(
        "orientation",
        typed,
        lambda: OrientationIn.model_validate(
            {"destination": destination, "service_id": _service_of(post, destination)}
        ),
        lambda data: service.add_orientation(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        ),
        done="orientation",
        place=lambda loc: "destination",
    )


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/transmission",
    dependencies=[audited_as(Action.TRANSMIT)],
)
def transmit(orientation_id: uuid.UUID, post: CurrentCasePost) -> Response:
    def confirm(_: None) -> Confirmation | None:
        case = service.case_of(post.session, principal=post.principal, case_id=post.case_id)
        orientation = _orientation_of(case, orientation_id)
        if orientation is None or not service.allows(
            Step.TRANSMIT,
            case,
            service.transmission_facts(post.session, case, orientation, post.on),
        ):
            return None
        where = _orientation_text(
            Destination(orientation.destination),
            orientation.service.name if orientation.service else None,
        )
        lines = [f"La situation sera transmise à : {where}."]
        if orientation.destination == Destination.SOCIAL_SERVICES:
            lines.append(
                "La transmission passe par le coordinateur ou la coordinatrice sociale de "
                "territoire (CST) de la cellule, qui verra l'identité, les coordonnées et "
                "l'orientation, jamais les faits ni les notes de recherche (R13)."
            )
        lines.append(
            "Seule la transmission est enregistrée, jamais ce qui est transmis (R15). Elle ne "
            "peut pas être annulée."
        )
        return Confirmation("Transmettre la situation", lines, "Confirmer la transmission")

    return post.step(
        f"transmission-{orientation_id}",
        {},
        _no_body,
        lambda _: service.transmit(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            orientation_id=orientation_id,
            today=post.on,
        ),
        confirm=confirm,
        done="transmise",
    )


def _orientation_of(case: Case, orientation_id: uuid.UUID) -> Orientation | None:
    return next((o for o in case.orientations if o.id == orientation_id), None)


@router.post(
    HOME + "/{case_id}/orientations/{orientation_id}/retour",
    dependencies=[audited_as(Action.RECORD_FEEDBACK)],
)
def record_feedback(orientation_id: uuid.UUID, post: CurrentCasePost) -> Response:
    typed = {"outcome": post.text("outcome"), "reoriented_to": post.text("reoriented_to")}
    return post.step(
        f"feedback-{orientation_id}",
        typed,
        lambda: FeedbackIn.model_validate(
            {"outcome": typed["outcome"], "reoriented_to": typed["reoriented_to"] or None}
        ),
        lambda data: service.record_feedback(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            orientation_id=orientation_id,
            data=data,
            today=post.on,
        ),
        done="retour",
    )


@router.post(HOME + "/{case_id}/cloture", dependencies=[audited_as(Action.CLOSE)])
def close(post: CurrentCasePost) -> Response:
    typed = {"reason": post.text("reason")}

    def validate() -> ClosureIn:
        return ClosureIn.model_validate({"reason": typed["reason"] or None})

    def confirm(data: ClosureIn) -> Confirmation | None:
        if data.reason is None:
            return None  # the service says a reason is required
        case = service.case_of(post.session, principal=post.principal, case_id=post.case_id)
        if ClosureReason(data.reason) not in service.closure_reasons_open(
            post.session, case, post.on
        ):
            return None  # the service says why this reason does not apply
        reason = label(ClosureReason, data.reason)
        return Confirmation(
            "Clore la situation",
            [
                f"La situation sera close, motif : {reason}.",
                "Elle rejoint l'archive : elle ne se consulte plus qu'avec un accès motivé et "
                "limité dans le temps (R17), et ses données nominatives sont détruites au plus "
                "tard trois ans après la clôture (R18).",
                "La clôture ne peut pas être annulée.",
            ],
            "Confirmer la clôture",
        )

    return post.step(
        "closure",
        typed,
        validate,
        lambda data: service.close(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            reason=ClosureReason(data.reason) if data.reason else None,
            today=post.on,
        ),
        confirm=confirm,
        done="close",
    )


@router.post(
    HOME + "/{case_id}/acces-archive", dependencies=[audited_as(Action.REQUEST_ARCHIVE_ACCESS)]
)
def request_archive_access(post: CurrentCasePost) -> Response:
    typed = {"reason": post.text("reason"), "purpose": post.text("purpose")}

    def act(data: ArchiveAccessIn) -> Case:
        service.grant_archive_access(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            reason=data.reason,
            purpose=data.purpose,
            hours=post.settings.archive_access_hours,
        )
        return service.case_of(post.session, principal=post.principal, case_id=post.case_id)

    return post.step(
        "archive",
        typed,
        lambda: ArchiveAccessIn.model_validate(typed),
        act,
        done="acces-archive",
        back=_archive_access_page,
        opens=True,
    )


# --- corrections ----------------------------------------------------------------------------------


@router.post(HOME + "/{case_id}/retrait", dependencies=[audited_as(Action.WITHDRAW)])
def withdraw(post: CurrentCasePost) -> Response:
    typed = {"reason": post.text("reason")}

    def confirm(data: WithdrawalIn) -> Confirmation:
        return Confirmation(
            "Retirer le signalement",
            [
                f"Motif : {label(WithdrawalReason, data.reason)}.",
                "Le signalement ne sera pas transmis au parquet ; ses données nominatives sont "
                "détruites à la prochaine purge (R18). Il reste compté dans les indicateurs.",
                "Le retrait ne peut pas être annulé.",
            ],
            "Confirmer le retrait",
        )

    return post.step(
        "withdrawal",
        typed,
        lambda: WithdrawalIn.model_validate({"reason": typed["reason"] or None}),
        lambda data: corrections.withdraw(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            reason=data.reason,
            today=post.on,
        ),
        confirm=confirm,
        done="retiree",
    )


@router.post(HOME + "/{case_id}/renvoi", dependencies=[audited_as(Action.RETURN_TO_AUTHOR)])
def return_to_author(post: CurrentCasePost) -> Response:
    typed = {"reason": post.text("reason")}
    return post.step(
        "return",
        typed,
        lambda: ReturnIn.model_validate({"reason": typed["reason"] or None}),
        lambda data: corrections.return_to_author(
            post.session,
            principal=post.principal,
            case_id=post.case_id,
            reason=data.reason,
            today=post.on,
        ),
        done="renvoyee",
    )


@router.post(
    HOME + "/{case_id}/notes/{note_id}", dependencies=[audited_as(Action.AMEND_RESEARCH_NOTE)]
)
def amend_research_note(note_id: uuid.UUID, post: CurrentCasePost) -> Response:
    name = f"note-{note_id}"
    typed = {"content": post.text("content")}

    def act(data: ResearchNoteIn) -> Case:
        corrections.amend_research_note(
            post.session,
            principal=post.principal,
            vault=post.vault,
            case_id=post.case_id,
            note_id=note_id,
            content=data.content,
            today=post.on,
        )
        return service.case_of(post.session, principal=post.principal, case_id=post.case_id)

    return post.step(
        name, typed, lambda: ResearchNoteIn.model_validate(typed), act, done="note-corrigee"
    )


# --- duplicates and transfers (issue 16) ------------------------------------------------------


@dataclass
class Moves:
    """What the page offers of issue 16, as the charter and the procedure decide now (the
    functions the steps themselves run)."""

    # The possible duplicates this user may decide on now (both cases still followed).
    duplicates: list[uuid.UUID] = field(default_factory=list)
    # The cells the case may be proposed to (same kind), if a proposal is possible now.
    transfer_cells: list[tuple[int, str]] = field(default_factory=list)
    # A transfer waiting: the receiving cell's name; the cell an accepted one went to.
    pending_to: str | None = None
    transferred_to: str | None = None


def moves(
    session: Session,
    principal: Principal,
    case: Case,
    possible_duplicates: list[uuid.UUID] | None,
    today: date,
) -> Moves:
    facts = service.facts_of(case)
    found = Moves()
    plain = StepFacts(today=today)
    if possible_duplicates and service.allows(Step.DECIDE_DUPLICATE, case, plain):
        others = case_repository.get_cases_for_policy(session, possible_duplicates)
        found.duplicates = [
            other.id
            for other in others
            if decisions.may_step(principal, Step.DECIDE_DUPLICATE, facts)
            and decisions.may_step(principal, Step.DECIDE_DUPLICATE, service.facts_of(other))
            and service.allows(Step.DECIDE_DUPLICATE, other, plain)
        ]
    if decisions.may_step(principal, Step.PROPOSE_TRANSFER, facts) and service.allows(
        Step.PROPOSE_TRANSFER, case, movements.transfer_facts(case, today)
    ):
        found.transfer_cells = movements.transfer_cells(session, case)
    pending = movements.pending_transfer(case)
    if pending is not None:
        cell = directory.get_cell(session, pending.to_cell_id)
        found.pending_to = cell.name if cell else None
    accepted = movements.last_accepted_transfer(case)
    if accepted is not None:
        cell = directory.get_cell(session, accepted.to_cell_id)
        found.transferred_to = cell.name if cell else None
    return found


@router.post(HOME + "/{case_id}/doublon", dependencies=[audited_as(Action.DECIDE_DUPLICATE)])
def decide_duplicate(post: CurrentCasePost) -> Response:
    typed = {"other_case_id": post.text("other_case_id"), "decision": post.text("decision")}
    name = f"duplicate-{typed['other_case_id']}"

    def confirm(data: DuplicateDecisionIn) -> Confirmation | None:
        if data.decision is not DuplicateDecision.SAME_MINOR:
            return None
        return Confirmation(
            "Rattacher les deux situations",
            [
                "Les deux situations concernent le même mineur : la plus ancienne est "
                "conservée, la plus récente est close comme doublon et rattachée à elle.",
                "La situation conservée garde l'origine et la date du signalement rattaché ; "
                "les notes de recherche restent là où elles ont été écrites.",
                "Ce rattachement ne peut pas être annulé.",
            ],
            "Confirmer le rattachement",
        )

    def act(data: DuplicateDecisionIn) -> Case:
        outcome = movements.decide_duplicate(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        )
        return outcome.kept or outcome.case

    decision = typed["decision"]
    return post.step(
        name,
        typed,
        lambda: DuplicateDecisionIn.model_validate(typed),
        act,
        confirm=confirm,
        done="doublon-fusionne" if decision == "same_minor" else "doublon-ecarte",
    )


@router.post(HOME + "/{case_id}/transfert", dependencies=[audited_as(Action.PROPOSE_TRANSFER)])
def propose_transfer(post: CurrentCasePost) -> Response:
    typed = {"cell_id": post.text("cell_id")}
    return post.step(
        "transfer",
        typed,
        lambda: TransferIn.model_validate({"cell_id": typed["cell_id"] or None}),
        lambda data: movements.propose_transfer(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        ),
        done="transfert-propose",
    )


TRANSFERS_PAGE = "/transferts"


def _transfers_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    sent: SentBack | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The transfers waiting for the answer of the user's cells: each case's state and dates
    and where it comes from, nothing nominative (R1), with the answer the charter allows."""
    waiting = movements.pending_transfers(session, principal=principal)
    rows = []
    for case in waiting:
        pending = movements.pending_transfer(case)
        assert pending is not None  # the query's condition
        origin = directory.get_cell(session, pending.from_cell_id)
        target = directory.get_cell(session, pending.to_cell_id)
        rows.append(
            {
                "case_id": case.id,
                "reference": case.reference,
                "state": case.state,
                "received_on": case.received_on,
                "origin": case.origin,
                "proposed_at": pending.proposed_at,
                "from_cell": origin.name if origin else "",
                "to_cell": target.name if target else "",
                "may_answer": movements.may_decide_transfer(principal, case),
            }
        )
    return page(
        request,
        "transfers.html",
        {"principal": principal, "rows": rows, "sent": sent, "done": done},
        status_code=status_code,
    )


@router.get(TRANSFERS_PAGE, dependencies=[audited_as(Action.LIST_TRANSFERS)])
def transfers_page(
    request: Request,
    principal: WebPrincipal,
    session: DbSession,
    fait: str | None = Query(default=None, max_length=40),
) -> HTMLResponse:
    return _transfers_page(request, session, principal, done=labels.DONE.get(fait or ""))


def _back_to_transfers(post: CasePost, sent: SentBack, status_code: int) -> HTMLResponse:
    return _transfers_page(
        post.request, post.session, post.principal, sent=sent, status_code=status_code
    )


@router.post(
    HOME + "/{case_id}/transfert/decision", dependencies=[audited_as(Action.DECIDE_TRANSFER)]
)
def decide_transfer(post: CurrentCasePost) -> Response:
    typed = {"decision": post.text("decision")}

    def act(data: TransferDecisionIn) -> Case:
        movements.decide_transfer(
            post.session, principal=post.principal, case_id=post.case_id, data=data, today=post.on
        )
        # Accepted, the case is now the user's to see; declined, it is out of their sight
        # (the step's end then leads to their list, saying so).
        case = case_repository.get_case(post.session, post.case_id)
        assert case is not None  # just decided
        return case

    accepted = typed["decision"] == TransferDecision.ACCEPT.value
    return post.step(
        f"transfer-{post.case_id}",
        typed,
        lambda: TransferDecisionIn.model_validate(typed),
        act,
        done="transfert-accepte" if accepted else "transfert-refuse",
        back=_back_to_transfers,
    )
