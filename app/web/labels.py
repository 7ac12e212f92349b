"""The French words of the interface for the closed lists: translated once, here.

A test checks every value of every list has its label, so a new value cannot reach a page
untranslated.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from app.policy.visibility import Block
from app.vocabulary import (
    CellKind,
    ClosureReason,
    Destination,
    FamilyOutcome,
    FeedbackOutcome,
    GuardianRelationship,
    InformationMeans,
    MeetingStatus,
    Motif,
    Organisation,
    ReceivedVia,
    ReorientedTo,
    ReturnReason,
    ReviewDecision,
    Role,
    Sex,
    WithdrawalReason,
)
from app.workflow.states import CaseState, Step

LABELS: dict[type[StrEnum], dict[str, str]] = {
    Role: {
        "coordinator": "Coordinateur ou coordinatrice de la cellule (DPP)",
        "parquet": "Parquet",
        "member": "Membre de la cellule",
        "cst": "Coordinateur ou coordinatrice sociale de territoire (CST)",
        "auditor": "Auditeur ou auditrice",
        "steering": "Comité de pilotage",
        "admin": "Administration",
    },
    Organisation: {
        "police": "Police",
        "education": "Éducation nationale",
        "mairie": "Mairie d'arrondissement",
        "city_service": "Service de la Ville",
        "social_landlord": "Bailleur social",
        "pjj": "Protection judiciaire de la jeunesse",
        "parquet": "Parquet",
        "dpp": "Direction de la prévention et de la protection (DPP)",
        "dases": "DASES",
        "association": "Association de prévention",
        "other": "Autre",
    },
    CellKind: {
        "cenomed": "Cellule CENOMED",
        "recidivism": "Groupe de lutte contre la récidive",
    },
    Motif: {
        "public_order": "Troubles à l'ordre public",
        "absenteeism": "Absentéisme scolaire",
        "school_dropout": "Décrochage scolaire",
        "wandering": "Errance",
        "violent_behaviour": "Comportement violent",
        "night_presence": "Présence nocturne sur la voie publique",
        "endangerment": "Mise en danger",
        "other": "Autre motif",
    },
    Destination: {
        "social_services": "Services sociaux (via la CST)",
        "crip": "Cellule de recueil des informations préoccupantes (CRIP)",
        "prevention_association": "Association de prévention spécialisée",
        "school_head": "Chef d'établissement",
        "reussite_educative": "Programme de réussite éducative",
        "other": "Autre dispositif",
        "mission_locale": "Mission locale",
        "insertion": "Dispositif d'insertion",
        "pjj": "Protection judiciaire de la jeunesse",
        "spip": "SPIP",
        "health": "Soins",
        "housing": "Logement",
    },
    FeedbackOutcome: {
        "support_in_place": "Un accompagnement a pu être mis en place",
        "support_not_possible": "Aucun accompagnement n'a pu être mis en place",
        "reoriented": "La situation a été réorientée",
    },
    ReorientedTo: {
        "social": "Vers un dispositif social",
        "medico_social": "Vers un dispositif médico-social",
    },
    Sex: {"F": "Féminin", "M": "Masculin", "X": "Non précisé"},
    GuardianRelationship: {
        "parent": "Parent",
        "guardian": "Tuteur ou tutrice",
        "other": "Autre",
    },
    InformationMeans: {
        "letter": "Courrier",
        "meeting": "Entretien",
        "phone": "Téléphone",
        "email": "Courriel",
    },
    ReviewDecision: {
        "orient": "Orienter",
        "no_action": "Classer sans suite",
    },
    ReceivedVia: {
        "letter": "Courrier",
        "email": "Courriel",
        "phone": "Téléphone",
        "meeting": "Réunion",
        "in_person": "En personne",
    },
    FamilyOutcome: {
        "informed": "Informée",
        "objects": "Informée, et opposée à l'orientation",
        "unreachable": "Injoignable malgré les tentatives",
    },
    ClosureReason: {
        "feedback_received": "Les services ont tous rendu compte",
        "moved_away": "Le mineur a quitté le territoire de la cellule",
        "aged_out": "La personne a dépassé l'âge du public de la cellule",
        "judicial_follow_up": "Une mesure judiciaire a commencé",
        "family_unreachable": "La famille n'a pas pu être jointe",
        "no_action": "Classée sans suite par la cellule",
        "other_legacy": "Motif non enregistré (clôture antérieure)",
        "duplicate": "Doublon : rattachée à une autre situation du même mineur",
    },
    CaseState: {
        "submitted": "Reçue par la coordination",
        "parquet_review": "Transmise au parquet",
        "not_retained": "Non retenue par le parquet",
        "research": "Recherches des membres",
        "cell_review": "À l'ordre du jour de la cellule",
        "oriented": "Orientée",
        "feedback": "Retours d'information",
        "closed": "Close",
        "purged": "Détruite (durée de conservation échue)",
        "withdrawn": "Retirée",
    },
    Step: {
        "submit": "Signaler la situation",
        "refer_to_parquet": "Transmettre au parquet",
        "retain": "Retenir la situation",
        "not_retain": "Ne pas retenir (suivi judiciaire en cours)",
        "add_research_note": "Ajouter une note de recherche",
        "examine_at_meeting": "Inscrire à l'ordre du jour",
        "remove_from_agenda": "Retirer de l'ordre du jour",
        "orient": "Orienter",
        "close_without_action": "Classer sans suite",
        "record_family_information": "Enregistrer l'information de la famille",
        "add_orientation": "Orienter vers un autre service",
        "declare_receipt": "Saisir une situation reçue hors du service",
        "transmit": "Transmettre au service",
        "record_feedback": "Enregistrer le retour d'information",
        "close": "Clore la situation",
        "request_archive_access": "Demander l'accès à l'archive",
        "export_subject_access": "Exporter pour le droit d'accès",
        "amend": "Corriger le signalement",
        "correct_identity": "Corriger l'identité ou les coordonnées",
        "withdraw": "Retirer le signalement",
        "return_to_author": "Renvoyer à son auteur pour compléments",
        "amend_research_note": "Corriger une note de recherche",
        "read_revisions": "Voir les versions antérieures",
        "decide_duplicate": "Décider d'un doublon possible",
        "close_as_duplicate": "Clore comme doublon",
        "propose_transfer": "Proposer le transfert à une autre cellule",
        "see_pending_transfer": "Voir un transfert en attente",
        "accept_transfer": "Accepter le transfert",
        "decline_transfer": "Refuser le transfert",
    },
    WithdrawalReason: {
        "sent_by_mistake": "Envoyée par erreur",
        "wrong_cell": "Adressée à la mauvaise cellule",
        "situation_resolved": "La situation s'est réglée",
        "other": "Autre raison",
    },
    ReturnReason: {
        "incomplete_identity": "Identité incomplète",
        "facts_missing": "Faits manquants ou trop vagues",
        "outside_cenomed_scope": "Situation hors du champ de la cellule",
    },
    Block: {
        "workflow": "Suivi de la procédure",
        "identity": "Identité du mineur",
        "contact": "Coordonnées",
        "facts": "Motifs et faits signalés",
        "research": "Notes de recherche",
        "orientation": "Orientation",
        "feedback": "Retours d'information",
    },
}

# What each state waits for, in the list of cases.
AWAITS: dict[str, str] = {
    "submitted": "Transmission au parquet par la coordination",
    "parquet_review": "Décision du parquet",
    "not_retained": "Présentation en cellule de la situation non retenue",
    "research": "Recherches des membres, puis inscription à l'ordre du jour",
    "cell_review": "Examen en cellule",
    "oriented": "Information de la famille et transmission aux services",
    "feedback": "Retours d'information des services",
}
# A situation whose procedure has ended awaits nothing: what became of it, instead.
ENDED: dict[str, str] = {
    "closed": "Procédure terminée : la situation est close",
    "purged": "Procédure terminée : les données nominatives sont détruites",
    "withdrawn": "Signalement retiré : ses données sont détruites à la prochaine purge",
}
# The lists' orders (app.cases.service.ListSort).
from app.cases.service import ListSort  # noqa: E402

LABELS[ListSort] = {
    "received_on": "Reçue le (la plus récente d'abord)",
    "updated_at": "Dernière modification (la plus récente d'abord)",
}
REFERENCE_FORMAT = "Un numéro de situation s'écrit comme 18-2026-0042 (ou R18-2026-0007)."
REFERENCE_UNKNOWN = "Aucune situation de vos cellules ne porte ce numéro."
# A signalement sent back to its author waits for them instead.
AWAITS_RETURNED = "Compléments de son auteur, puis transmission au parquet"


def label(kind: type[StrEnum], value: str | StrEnum | None) -> str:
    """The French label of a value of a closed list (the value itself if it is unknown, which
    the completeness test forbids)."""
    if value is None:
        return ""
    return LABELS[kind].get(str(value), str(value))


def choices(kind: type[StrEnum], values: object = None) -> list[tuple[str, str]]:
    """(value, label) pairs in the list's order, or of ``values`` only."""
    allowed = list(kind) if values is None else [kind(v) for v in values]  # type: ignore[attr-defined]
    return [(member.value, LABELS[kind][member.value]) for member in allowed]


# What a refusal says on a page, by the problem's slug (the API's details are English).
PROBLEMS: dict[str, str] = {
    "not-a-cell-member": (
        "Vous n'êtes membre d'aucune cellule : il n'y a aucune situation à afficher."
    ),
    "role-not-allowed": "La charte ne permet pas à votre rôle cette action à cette étape.",
    "case-not-found": "Aucune situation de vos cellules ne correspond à cette adresse.",
    "transmission-takes-no-content": "La transmission ne porte aucun contenu.",
    "step-not-allowed-in-state": (
        "Cette étape n'est pas possible dans l'état actuel de la situation."
    ),
    "origin-reserved": "Cette origine est réservée à l'institution concernée.",
    "orientation-not-found": "Cette situation n'a pas cette orientation.",
    "not-archived": "Cette situation n'est pas archivée : elle se consulte directement.",
    "meeting-not-found": "Aucune réunion de vos cellules ne correspond à cette adresse.",
    "invalid-feedback": "Le retour d'information doit être choisi dans la liste proposée.",
    "csrf-token-invalid": (
        "Le formulaire n'a pas pu être vérifié (jeton anti-falsification absent ou périmé). "
        "Rechargez la page et envoyez-le de nouveau."
    ),
    "concurrent-change": (
        "Quelqu'un a modifié cette situation au même moment : rechargez la page et recommencez."
    ),
    "charter-withholds-case": (
        "La charte ne vous permet de voir aucun élément de cette situation à cette étape."
    ),
    "charter-not-accepted": "Acceptez la charte en vigueur avant d'accéder aux situations.",
    "charter-version-mismatch": (
        "La version de la charte a changé : relisez-la avant de l'accepter."
    ),
    "archive-access-required": (
        "Cette situation est close et archivée : demandez un accès motivé et limité dans le temps."
    ),
    "data-destroyed": (
        "Les données nominatives de cette situation ont été détruites (durée de conservation "
        "échue)."
    ),
    "integrity-failure": (
        "Une donnée enregistrée n'a pas passé son contrôle d'intégrité : l'incident est "
        "journalisé. "
        "Signalez-le aux administrateurs du service."
    ),
    "too-many-authentication-failures": (
        "Trop de tentatives de connexion échouées depuis votre adresse : patientez une minute."
    ),
    "service-busy": (
        "Trop de connexions sont vérifiées en ce moment : réessayez dans quelques secondes."
    ),
    "invalid-input": "Les informations envoyées ne sont pas valides : vérifiez le formulaire.",
    "validation-error": "Les informations envoyées ne sont pas valides : vérifiez le formulaire.",
    "forbidden": "Cette action ne vous est pas permise.",
    "not-found": "Cette page n'existe pas.",
    "http-404": "Cette page n'existe pas.",
    "http-405": "Cette adresse ne s'utilise pas ainsi.",
    "conflict": "Cette action n'est pas possible dans l'état actuel : rechargez la page.",
    "internal-error": (
        "Le service a rencontré une erreur inattendue ; rien n'a été modifié. Réessayez."
    ),
}
# The procedure's guards (app.workflow.guards), by their code.
PROBLEMS.update(
    {
        "one-month-rule": (
            "Une situation ne peut être examinée qu'à une réunion tenue au moins un mois "
            "calendaire après sa réception : choisissez une réunion plus tardive."
        ),
        "meeting-not-held-yet": "Cette réunion n'a pas encore eu lieu.",
        "meeting-of-another-cell": "Cette réunion est celle d'une autre cellule.",
        "family-not-informed": (
            "La famille doit être informée avant la transmission aux services sociaux."
        ),
        "family-already-informed": "L'information de la famille est déjà enregistrée.",
        "already-transmitted": "Cette orientation a déjà été transmise.",
        "not-transmitted": "Cette orientation n'a pas encore été transmise au service.",
        "no-social-coordinator": (
            "La cellule n'a pas de coordinateur ou coordinatrice sociale de territoire (CST) "
            "actif pour recevoir la transmission."
        ),
        "feedback-already-recorded": ("Le retour d'information de ce service est déjà enregistré."),
    }
)
STATUS_TITLES: dict[int, str] = {
    400: "Demande invalide",
    403: "Action non permise",
    404: "Page introuvable",
    405: "Méthode non permise",
    409: "Action impossible pour l'instant",
    410: "Données détruites",
    413: "Envoi trop volumineux",
    422: "Informations invalides",
    429: "Trop de tentatives",
    500: "Erreur du service",
    503: "Service momentanément occupé",
}


def problem_text(status: int, slug: str) -> tuple[str, str]:
    """The title and sentence of a refusal's page."""
    title = STATUS_TITLES.get(status, "Demande refusée")
    return title, PROBLEMS.get(slug, "Cette demande n'a pas pu aboutir.")


# --- the meeting, audit and indicators screens ----------------------------------------------

# The audit log's actions (app.audit.trail.Action): the auditor filters on them.
from app.audit.trail import Action  # noqa: E402 (appended with the screens that use it)

LABELS[Action] = {
    "read_case": "Consultation d'une situation",
    "list_cases": "Consultation de la liste des situations",
    "read_meeting": "Consultation d'une réunion",
    "submit_case": "Signalement d'une situation",
    "refer_to_parquet": "Transmission au parquet",
    "decide_parquet": "Décision du parquet",
    "add_research_note": "Ajout d'une note de recherche",
    "create_meeting": "Convocation d'une réunion",
    "put_on_agenda": "Inscription à l'ordre du jour",
    "review_decision": "Décision de la cellule",
    "record_family_information": "Information de la famille",
    "add_orientation": "Nouvelle orientation",
    "manage_services": "Services partenaires de la cellule",
    "transmit": "Transmission à un service",
    "record_feedback": "Retour d'un service",
    "close": "Clôture d'une situation",
    "request_archive_access": "Accès à l'archive",
    "export_subject_access": "Export du droit d'accès",
    "read_indicators": "Consultation des indicateurs",
    "read_me": "Consultation de son compte",
    "accept_charter": "Acceptation de la charte",
    "sign_in": "Connexion",
    "sign_out": "Déconnexion",
    "add_cell": "Création d'une cellule",
    "add_user": "Création d'un compte",
    "deactivate_user": "Désactivation d'un compte",
    "issue_token": "Émission d'un jeton",
    "set_password": "Définition d'un mot de passe",
    "rotate_keys": "Rotation des clés",
    "destroy_key": "Destruction d'une clé",
    "checkpoint": "Point de contrôle signé du journal",
    "purge_case": "Destruction des données d'une situation",
    "purge": "Purge des situations échues",
    "backup": "Sauvegarde",
    "restore": "Restauration",
    "read_audit_events": "Consultation du journal d'audit",
    "verify_audit_log": "Vérification du journal d'audit",
    "read_access_log": "Consultation des accès à une situation",
    "amend_case": "Correction d'un signalement",
    "withdraw": "Retrait d'un signalement",
    "return_to_author": "Renvoi d'un signalement à son auteur",
    "amend_research_note": "Correction d'une note de recherche",
    "read_revisions": "Consultation des versions antérieures",
    "decide_duplicate": "Décision sur un doublon possible",
    "propose_transfer": "Proposition de transfert",
    "decide_transfer": "Réponse à un transfert",
    "list_transfers": "Consultation des transferts en attente",
    "list_meetings": "Consultation de la liste des réunions",
    "reschedule_meeting": "Report ou déplacement d'une réunion",
    "cancel_meeting": "Annulation d'une réunion",
    "remove_from_agenda": "Retrait de l'ordre du jour",
    "order_agenda": "Ordre de passage de l'ordre du jour",
    "record_attendance": "Feuille de présence d'une réunion",
    "mark_meeting_held": "Réunion tenue",
    "print_agenda": "Impression de l'ordre du jour",
    "print_minutes": "Impression du relevé de décisions",
    "read_worklist": "Consultation de sa liste de travail",
    "set_email": "Définition d'une adresse de courriel",
    "set_notifications": "Choix des notifications",
}
AUDIT_OUTCOMES: dict[str, str] = {"allowed": "Autorisée", "denied": "Refusée"}
AUDIT_SEVERITIES: dict[str, str] = {"info": "Normale", "high": "Élevée"}
# The server's operator acting through the command line (app.audit.trail.OPERATOR_ROLE).
OPERATOR_ROLE = "Opérateur du serveur (ligne de commande)"
# A visitor without an account (app.audit.trail.ANONYMOUS_ROLE).
ANONYMOUS_ROLE = "Visiteur sans compte"
# An event whose stored row cannot be read (app.audit.service.shown).
UNREADABLE_EVENT = "Événement illisible : voir la vérification du journal"

# The fiche 1.3 indicators (app.indicators.schemas.IndicatorsRead).
INDICATOR_COUNTS: dict[str, str] = {
    "meetings": "Réunions tenues",
    "signalements": "Situations signalées",
    "retained": "Situations retenues par le parquet",
    "not_retained": "Situations non retenues par le parquet",
    "examined": "Situations examinées en cellule",
    "orientations": "Orientations décidées",
    "transmitted": "Orientations transmises aux services",
    "closed": "Situations closes",
    "withdrawn": "Signalements retirés",
    "additional_signalements": "Signalements rattachés à une situation déjà suivie (doublons)",
    "transfers_in": "Situations reçues d'une autre cellule (transferts)",
    "transfers_out": "Situations transférées à une autre cellule",
}
INDICATOR_BREAKDOWNS: dict[str, str] = {
    "by_origin": "Situations signalées, par origine",
    "by_motif": "Situations signalées, par motif (une situation compte pour chacun de ses motifs)",
    "by_sex": "Situations signalées, par sexe",
    "by_age_bracket": "Situations signalées, par âge à la réception",
    "by_destination": "Orientations décidées, par destination",
    "feedback": "Retours d'information des services, par issue",
    "by_closure_reason": "Situations closes, par motif",
    "by_withdrawal_reason": "Signalements retirés, par motif",
    "additional_by_origin": "Signalements rattachés (doublons), par origine",
}
INDICATOR_MEDIANS: dict[str, str] = {
    "received_to_parquet_decision": "De la réception à la décision du parquet",
    "received_to_examination": "De la réception à l'examen en cellule",
    "examination_to_orientation": "De l'examen en cellule à l'orientation",
    "transmission_to_feedback": "De la transmission au retour du service",
}
SEX_NOT_GIVEN = "Non renseigné"


def age_bracket_label(bracket: str) -> str:
    """'13-15' as '13 à 15 ans', '26+' as '26 ans et plus'."""
    if bracket.endswith("+"):
        return f"{bracket[:-1]} ans et plus"
    low, _, high = bracket.partition("-")
    return f"{low} à {high} ans" if high else bracket


PROBLEMS.update(
    {
        "invalid-cursor": (
            "Le lien de la page suivante n'est plus valide : reprenez la recherche depuis le début."
        ),
    }
)


# --- a refused value, on its field -------------------------------------------------------------

# By the error's type: pydantic's (the API's schemas) and the procedure's own
# (app.workflow.guards.InvalidStepInput codes), so that a form shows every refusal of the
# same validation as the API in French, on the field it concerns.
FIELD_ERRORS: dict[str, str] = {
    "missing": "Ce champ est obligatoire.",
    "too_short": "Choisissez au moins une valeur.",
    "string_too_short": "Ce champ est obligatoire.",
    "string_too_long": "Ce texte est trop long : {max_length} caractères au plus.",
    "text_too_short": "Ce texte est trop court : {min_length} caractères au moins.",
    "control_characters": (
        "Ce texte contient des caractères de contrôle (invisibles), qui ne sont pas acceptés : "
        "retirez-les."
    ),
    "too_few_words": "Rédigez une phrase d'au moins {words} mots.",
    "date_from_datetime_parsing": "Saisissez une date valide.",
    "date_parsing": "Saisissez une date valide.",
    "date_type": "Saisissez une date valide.",
    "enum": "Choisissez une valeur de la liste.",
    "literal_error": "Choisissez une valeur de la liste.",
    "bool_parsing": "Choisissez une des réponses proposées.",
    "uuid_parsing": "Choisissez une des situations proposées.",
    "int_parsing": "Choisissez une valeur de la liste.",
    "string_pattern_mismatch": "Ce numéro n'a pas un format valide.",
    "name_without_letter": "Un nom contient au moins une lettre.",
    "date_in_future": "Cette date ne peut pas être dans le futur.",
    "date_too_old": "Cette date ne peut pas être antérieure de plus d'un an.",
    "date_out_of_window": "La date de la réunion doit être à moins d'un an d'aujourd'hui.",
    "before_receipt": "Cette date ne peut pas précéder la réception de la situation.",
    "born_after_receipt": "La date de naissance doit précéder le jour où la situation a été reçue.",
    "not_a_minor": (
        "Une cellule CENOMED ne suit que des mineurs : la personne doit avoir moins de 18 ans "
        "le jour où la situation est reçue."
    ),
    "outside_recidivism_ages": (
        "Un groupe récidive suit des jeunes de 12 à 25 ans le jour où la situation est reçue."
    ),
    "no_destination": "Choisissez au moins une destination.",
    "repeated_destination": "Choisissez chaque destination une seule fois.",
    "destination_not_open": "Une de ces destinations n'est pas ouverte à cette cellule.",
    "orientations_with_no_action": "Un classement sans suite ne prend pas de destination.",
}
INVALID_VALUE = "Cette valeur n'est pas valide."


def field_error(kind: str, context: dict[str, Any] | None = None) -> str:
    """What a refused value's error says to the person who typed it."""
    context = context or {}
    if kind == "string_too_short" and int(context.get("min_length", 1)) > 1:
        kind = "text_too_short"
    try:
        return FIELD_ERRORS.get(kind, INVALID_VALUE).format(**context)
    except (KeyError, IndexError, ValueError):
        return INVALID_VALUE


# A step done, on the page it leads to (the "fait" parameter of the redirect).
DONE: dict[str, str] = {
    "signalement": "La situation a été signalée à la coordination de la cellule.",
    "parquet": "La situation a été transmise au parquet.",
    "retenue": "La situation est retenue : les membres de la cellule peuvent faire leurs "
    "recherches.",
    "non-retenue": "La situation n'est pas retenue : elle sera présentée à la prochaine réunion.",
    "note": "Votre note de recherche a été ajoutée.",
    "orientee": "L'orientation de la cellule est enregistrée.",
    "sans-suite": "La situation est classée sans suite, close et archivée.",
    "famille": "L'information de la famille et sa réponse sont enregistrées.",
    "orientation": "La nouvelle orientation est enregistrée.",
    "transmise": "La transmission est enregistrée.",
    "retour": "Le retour du service est enregistré.",
    "close": "La situation est close et archivée.",
    "acces-archive": "L'accès à l'archive est ouvert pour quelques heures.",
    "corrigee": "La correction est enregistrée ; les valeurs remplacées sont conservées.",
    "inchangee": "Rien n'a changé : les valeurs envoyées sont celles déjà enregistrées.",
    "retiree": "Le signalement est retiré ; ses données seront détruites à la prochaine purge.",
    "renvoyee": "Le signalement est renvoyé à son auteur pour compléments.",
    "note-corrigee": "Votre note de recherche est corrigée.",
    "doublon-fusionne": "Les deux situations sont rattachées : la plus récente est close comme "
    "doublon de la plus ancienne.",
    "doublon-ecarte": "Les deux situations concernent deux mineurs : elles ne seront plus "
    "signalées comme doublons possibles.",
    "transfert-propose": "Le transfert est proposé : la cellule d'accueil doit l'accepter.",
    "transfert-accepte": "Le transfert est accepté : la situation est désormais dans votre "
    "cellule.",
    "transfert-refuse": "Le transfert est refusé : la situation reste dans sa cellule.",
}

PROBLEMS.update(
    {
        "received-on-not-allowed": (
            "Une situation est reçue le jour où vous la signalez : seule la coordination "
            "déclare une date antérieure, pour une situation reçue hors du service."
        ),
        "received-via-required": "Indiquez comment la situation vous est parvenue.",
        "received-on-in-future": "Une situation ne peut pas avoir été reçue dans le futur.",
        "received-on-too-old": (
            "Ce jour de réception est trop ancien pour être déclaré maintenant."
        ),
        "meeting-recorded-too-late": (
            "Cette réunion s'est tenue il y a trop longtemps pour être enregistrée maintenant."
        ),
        "informed-on-in-future": "La date d'information de la famille ne peut pas être future.",
        "informed-before-decision": (
            "La famille ne peut pas avoir été informée avant la décision de la cellule."
        ),
        "closure-reason-required": "Choisissez le motif de la clôture.",
        "closure-reason-not-applicable": (
            "Ce motif de clôture ne correspond pas à la situation : choisissez-en un autre."
        ),
        "family-unreachable": (
            "La famille n'a pas pu être jointe : pas de transmission aux services sociaux. "
            "Orientez ailleurs ou close la situation pour ce motif."
        ),
        "service-required": "Choisissez le service partenaire de cette orientation.",
        "service-not-of-cell": "Ce service n'est pas l'un de ceux de la cellule.",
        "service-not-applicable": (
            "Les services sociaux sont saisis par la CST : pas de service à nommer."
        ),
        "service-already-listed": "La cellule a déjà un service de ce nom pour cette destination.",
        "service-not-found": "Ce service n'existe pas dans cette cellule.",
        "returned-to-author": (
            "Ce signalement a été renvoyé à son auteur pour compléments : il sera transmis au "
            "parquet une fois corrigé."
        ),
        "already-returned": "Ce signalement attend déjà les compléments de son auteur.",
        "empty-amendment": "Modifiez au moins un champ avant d'enregistrer la correction.",
        "amendment-field-not-allowed": (
            "Après la décision du parquet, seules l'identité et les coordonnées se corrigent."
        ),
        "required-field-removed": (
            "Le nom, le prénom, la date de naissance et au moins un motif restent obligatoires."
        ),
        "research-note-not-found": "Cette situation n'a pas cette note de recherche.",
        "not-note-author": "Seul l'auteur d'une note de recherche peut la corriger.",
    }
)
FIELD_ERRORS.update(
    {
        "amendment_field_not_allowed": "Ce champ ne se corrige plus à cette étape.",
        "required_field_removed": "Ce champ est obligatoire.",
    }
)
# The amended fields, as the history names them (never their values).
AMENDED_FIELDS: dict[str, str] = {
    "last_name": "nom",
    "first_name": "prénom",
    "birth_date": "date de naissance",
    "sex": "sexe",
    "school": "établissement scolaire",
    "address": "adresse",
    "guardians": "représentants légaux",
    "motifs": "motifs",
    "facts": "faits",
    "content": "texte de la note",
}
FIELD_ERRORS.update(
    {
        "date_too_old": "Cette date est trop ancienne (voyez la limite indiquée).",
        "before_decision": "Cette date précède la décision de la cellule.",
        "recorded_too_late": (
            "Une réunion ne s'enregistre que peu de jours après s'être tenue (voyez la limite)."
        ),
        "received_on_not_allowed": "Seule la coordination déclare la date et le canal.",
        "service_required": "Choisissez le service partenaire.",
        "service_not_of_cell": "Choisissez un service de la liste.",
        "social_services_via_cst": "Les services sociaux sont saisis par la CST.",
    }
)


def step_detail(step: str, detail: str | None) -> str:
    """What a step's detail code says, in the history's words (nothing for an id)."""
    if not detail:
        return ""
    kind, _, value = detail.partition(":")
    if kind == "declared":
        return f"saisie par la coordination, reçue par {label(ReceivedVia, value).lower()}"
    if kind == "outcome":
        return f"famille : {label(FamilyOutcome, value).lower()}"
    if kind == "destination":
        return label(Destination, value)
    if kind in ("to_cell", "from_cell"):
        return ""  # a cell's id: the page names cells where it shows the transfer
    if detail == "different_minor":
        return "deux mineurs différents"
    if detail.startswith("same_minor"):
        return "même mineur : situation conservée" if value == "kept" else "même mineur"
    if step in ("close", "close_without_action") and detail in LABELS[ClosureReason]:
        return label(ClosureReason, detail)
    if step == "withdraw":
        return label(WithdrawalReason, detail)
    if step == "return_to_author":
        return label(ReturnReason, detail)
    if step == "amend_research_note":
        return "note de recherche corrigée"
    if step in ("amend", "correct_identity"):
        names = [AMENDED_FIELDS.get(name, "") for name in detail.split(",")]
        return "champs corrigés : " + ", ".join(name for name in names if name)
    return ""


# --- finding a case by identity (issue 16) ----------------------------------------------------

LABELS[Action]["search_cases"] = "Recherche d'une situation par l'identité"
PROBLEMS.update(
    {
        "too-many-searches": (
            "Vous avez fait le nombre maximal de recherches permis en une heure : patientez "
            "avant d'en faire une autre, ou retrouvez la situation dans votre liste."
        ),
        # Issue 16: duplicates and transfers.
        "not-a-possible-duplicate": (
            "Ces deux situations ne sont pas signalées comme doublons possibles."
        ),
        "duplicate-of-itself": "Une situation n'est pas son propre doublon.",
        "duplicate-not-open": (
            "Seules des situations encore suivies se rattachent : une situation non retenue "
            "ou close reste telle quelle."
        ),
        "transfer-cell-unknown": "Choisissez une cellule de la liste.",
        "transfer-to-same-cell": "La situation est déjà dans cette cellule.",
        "transfer-to-other-kind": (
            "Une situation ne se transfère qu'à une cellule de même nature."
        ),
        "transfer-already-pending": (
            "Un transfert de cette situation attend déjà la réponse de la cellule d'accueil."
        ),
        "no-pending-transfer": "Aucun transfert de cette situation n'attend de réponse.",
    }
)
FIELD_ERRORS.update(
    {
        "wildcard_not_allowed": (
            "La recherche est exacte : saisissez le nom complet, sans caractère joker (* % ? _)."
        ),
        "transfer_cell_unknown": "Choisissez une cellule de la liste.",
        "transfer_to_same_cell": "La situation est déjà dans cette cellule.",
        "transfer_to_other_kind": "Choisissez une cellule de même nature.",
    }
)


# --- meetings the coordinator runs (issue 17) --------------------------------------------------

LABELS[MeetingStatus] = {
    "scheduled": "Convoquée",
    "held": "Tenue",
    "cancelled": "Annulée",
}
PROBLEMS.update(
    {
        "meeting-slot-taken": (
            "La cellule a déjà une réunion convoquée ce jour-là à cette heure : choisissez une "
            "autre heure ou un autre jour."
        ),
        "starts-at-out-of-hours": "Une réunion commence entre 7 h et 21 h.",
        "meeting-moved-into-past": "Une réunion ne peut pas être reportée à un jour passé.",
        "meeting-too-far": "La réunion doit avoir lieu dans l'année qui vient.",
        "meeting-already-held": (
            "Cette réunion s'est tenue : sa date, son lieu et son ordre du jour font partie du "
            "relevé."
        ),
        "meeting-cancelled": "Cette réunion a été annulée : convoquez-en une autre.",
        "meeting-has-decisions": (
            "La cellule a déjà pris des décisions à cette réunion : elle ne peut plus être "
            "annulée ni reportée."
        ),
        "agenda-not-decided": (
            "Enregistrez la décision de la cellule sur chaque situation de l'ordre du jour, ou "
            "retirez-la pour une réunion plus tardive, avant de marquer la réunion comme tenue."
        ),
        "already-on-agenda": "Cette situation est déjà inscrite à l'ordre du jour de la réunion.",
        "not-on-agenda": "Cette situation n'est pas inscrite à l'ordre du jour de cette réunion.",
        "case-already-decided": (
            "La cellule a déjà décidé de cette situation : elle reste à l'ordre du jour de la "
            "réunion qui l'a décidée."
        ),
        "agenda-order-mismatch": (
            "L'ordre de passage doit reprendre chaque situation de l'ordre du jour, une fois."
        ),
        "not-a-participant": (
            "Seuls les membres de la cellule invités à ses réunions peuvent y avoir assisté."
        ),
        "nothing-to-change": "Indiquez la nouvelle date, la nouvelle heure ou le nouveau lieu.",
        "place-not-one-line": "Le lieu tient sur une ligne, sans caractère de contrôle.",
        "place-empty": "Indiquez le lieu de la réunion.",
        "place-too-long": "Le lieu tient en 200 caractères au plus.",
        "confirmation-required": "Cochez la case de confirmation.",
    }
)
FIELD_ERRORS.update(
    {
        "time_hh_mm": "Indiquez l'heure au format HH:MM, par exemple 14:30.",
        "place_not_one_line": "Le lieu tient sur une ligne, sans caractère de contrôle.",
        "place_empty": "Indiquez le lieu de la réunion.",
        "place_too_long": "Le lieu tient en 200 caractères au plus.",
        "starts_at_out_of_hours": "Une réunion commence entre 7 h et 21 h.",
        "date_in_past": "Choisissez aujourd'hui ou un jour à venir.",
        "not_a_participant": (
            "Seuls les membres de la cellule invités à ses réunions peuvent y avoir assisté."
        ),
        "confirmation_required": "Cochez cette case pour confirmer.",
        "agenda_order_mismatch": (
            "L'ordre de passage doit reprendre chaque situation de l'ordre du jour, une fois."
        ),
    }
)
DONE.update(
    {
        "convoquee": "La réunion est convoquée ; les membres de la cellule y sont invités.",
        "inscrites": "L'ordre du jour est complété.",
        "hors-ordre-du-jour": "La situation est retirée de l'ordre du jour : elle pourra être "
        "inscrite à une autre réunion.",
        "ordre": "L'ordre de passage est modifié.",
        "decision-enregistree": "La décision de la cellule est enregistrée.",
        "reportee": "La réunion est reportée ou déplacée.",
        "annulee": "La réunion est annulée : ses situations peuvent être inscrites à une autre "
        "réunion.",
        "presences": "La feuille de présence est enregistrée.",
        "tenue": "La réunion est marquée comme tenue : son relevé de décisions est prêt.",
    }
)


# --- what awaits me (issue 18) --------------------------------------------------------------

from app.worklist.schemas import WorkKind  # noqa: E402 (appended with the screen that uses it)

LABELS[WorkKind] = {
    "refer_to_parquet": "Signalements à transmettre au parquet",
    "awaiting_author": "Signalements renvoyés à leur auteur pour compléments",
    "ready_for_meeting": "Situations qu'une réunion peut désormais examiner",
    "inform_family": "Familles à informer de l'orientation",
    "transmit": "Orientations à transmettre",
    "feedback_overdue": "Retours d'information en retard",
    "answer_transfer": "Transferts proposés à votre cellule",
    "archive_access_expiring": "Accès à l'archive qui se terminent dans l'heure",
    "next_meeting": "Prochaine réunion",
    "meeting_to_close": "Réunions passées à marquer comme tenues",
    "decide_referral": "Situations transmises au parquet, en attente de décision",
    "complete_signalement": "Vos signalements à compléter",
    "own_signalement": "Vos signalements",
    "in_research": "Situations en recherche dans vos cellules",
    "meeting": "Réunions à venir",
    "awaiting_feedback": "Transmissions aux services sociaux : retour attendu",
}


# --- the admin console (issue 19) -------------------------------------------------------------

LABELS[Action].update(
    {
        "list_users": "Consultation de la liste des comptes",
        "read_user": "Consultation d'un compte",
        "update_user": "Modification d'un compte",
        "reactivate_user": "Réactivation d'un compte",
        "start_password_reset": "Lien de choix du mot de passe",
        "reset_password": "Choix d'un mot de passe par un lien",
        "list_cells": "Consultation de la liste des cellules",
        "update_cell": "Modification d'une cellule",
        "read_charter_acceptances": "Consultation des acceptations de la charte",
    }
)
PROBLEMS.update(
    {
        "organisation-of-role": (
            "Ce rôle va avec une organisation précise (DPP pour la coordination, parquet, DASES "
            "pour la CST), et un membre représente un partenaire : choisissez l'organisation "
            "qui correspond."
        ),
        "organisation-required": (
            "Un membre de la cellule représente une organisation : choisissez-la."
        ),
        "cells-not-allowed": (
            "Ce rôle travaille à l'échelle de Paris et n'appartient à aucune cellule : "
            "décochez les cellules."
        ),
        "cell-required": "Ce rôle appartient à au moins une cellule : cochez-en une.",
        "cell-not-found": "Cette cellule n'existe pas : choisissez-en une de la liste.",
        "username-taken": "Cet identifiant est déjà pris : choisissez-en un autre.",
        "invalid-email": (
            "Saisissez une seule adresse professionnelle, comme prenom.nom@paris.fr (sans nom, "
            "sans espace)."
        ),
        "own-role": (
            "Vous ne pouvez pas changer votre propre rôle : un autre administrateur le peut."
        ),
        "own-deactivation": "Vous ne pouvez pas désactiver votre propre compte.",
        "last-active-admin": (
            "C'est le dernier compte d'administration actif : nommez d'abord un autre "
            "administrateur."
        ),
        "user-not-found": "Aucun compte ne correspond à cette adresse.",
        "cell-name-taken": "Une cellule porte déjà ce nom : choisissez-en un autre.",
        "account-inactive": "Ce compte est désactivé : réactivez-le d'abord.",
        "local-sign-in-disabled": (
            "Les mots de passe sont vérifiés par le fournisseur d'identité : c'est là qu'ils "
            "se changent."
        ),
        "reset-link-unknown": (
            "Ce lien n'est pas valable : demandez-en un nouveau à l'administrateur."
        ),
        "reset-link-used": (
            "Ce lien a déjà servi, ou un lien plus récent l'a remplacé : demandez-en un nouveau "
            "à l'administrateur si besoin."
        ),
        "reset-link-expired": (
            "Ce lien a plus d'une heure et n'est plus valable : demandez-en un nouveau à "
            "l'administrateur."
        ),
        "passwords-differ": "Les deux mots de passe saisis sont différents.",
        "password-rule": (
            "Un mot de passe a de 12 à 256 caractères : choisissez une phrase de passe."
        ),
    }
)
# The console's own wording of a refused field (app.web.admin_pages).
ADMIN_FIELD_ERRORS: dict[str, str] = {
    "username_pattern": "Un identifiant s'écrit d'un seul tenant, sans espace.",
}
DONE.update(
    {
        "compte-cree": "Le compte est créé. Donnez-lui un mot de passe par un lien à usage unique.",
        "compte-modifie": "Le compte est modifié : le changement vaut dès sa prochaine demande.",
        "compte-desactive": (
            "Le compte est désactivé : toute demande de sa part est refusée, ses sessions sont "
            "fermées."
        ),
        "compte-reactive": "Le compte est réactivé : il peut de nouveau se connecter.",
        "cellule-creee": "La cellule est créée.",
        "cellule-modifiee": "La cellule est modifiée.",
    }
)

# --- the field's words --------------------------------------------------------------------------

# One term per notion, as the fiche 1.3 and the cell's partners say it (issue 19): for each term,
# the words a page must not use in its place. A test renders every page for every role and
# fails when one of them shows such a word, or a rule's code (kept in a ``title``).
GLOSSARY: dict[str, tuple[str, ...]] = {
    "situation": (r"dossiers?", r"saisines?"),
    "reçu le": (r"date de réception", r"date d'arrivée"),
    "parquet": (r"procureurs?", r"ministère public"),
    "CST": (r"coordination sociale territoriale", r"travailleurs? sociaux? référents?"),
    "orientation": (r"préconisations?",),
    "retour d'information": (r"feedbacks?", r"retours? des services", r"comptes? rendus? de suivi"),
    "comité de pilotage": (r"copil", r"steering", r"(?<!comité de )pilotage"),
    "réunion de la cellule": (r"séances?", r"réunions? plénières?", r"commissions?"),
}
# A rule's mention in a sentence: " (R7)", " (R4, R10)", or ", R7)" closing a parenthesis.
_RULE_MENTION = re.compile(r" \((R\d{1,2}(?:, R\d{1,2})*)\)|, (R\d{1,2})(?=\))")


def without_rule_codes(text: str) -> str:
    """The sentence a user reads: the charter's rule codes taken out (see :func:`rule_title`)."""
    return _RULE_MENTION.sub("", text)


def rule_title(text: str) -> str:
    """The codes of the rules a sentence rests on, for its ``title`` ("" if none): for the
    curious, never in the text itself."""
    codes = [
        code
        for found in _RULE_MENTION.findall(text)
        for part in found
        if part
        for code in part.split(", ")
    ]
    return (
        ("Charte : règle " if len(codes) == 1 else "Charte : règles ") + ", ".join(codes)
        if codes
        else ""
    )


# A rule's code as the charter numbers it (R1 to R23), not a situation's number (R18-2026-0007).
RULE_CODE = re.compile(r"\bR(?:[1-9]|1[0-9]|2[0-3])\b(?!-)")


def misused_terms(text: str) -> list[tuple[str, str]]:
    """(term to use, word found) for each glossary variant or rule code in a page's text."""
    found = [
        (term, match.group(0))
        for term, variants in GLOSSARY.items()
        for variant in variants
        for match in re.finditer(rf"(?<!\w){variant}(?!\w)", text, re.IGNORECASE)
    ]
    found += [("un title pour le code de la règle", m.group(0)) for m in RULE_CODE.finditer(text)]
    return found


# --- the auditor's journal (issue 19) -------------------------------------------------------

LABELS[Action]["export_audit_events"] = "Export du journal pour une inspection"
# The journal's filter by account: the account's name, as it signs in.
AUDIT_ACCOUNT_UNKNOWN = "Aucun compte ne porte cet identifiant de connexion."
# What the journal says of an archive access's reason (see app.web.audit_pages).
ARCHIVE_REASON_SEALED = (
    "Le texte qui précise ce motif est chiffré avec la situation : il peut nommer des "
    "personnes, le journal ne le montre donc pas (R2). Le coordinateur de la cellule le lit "
    "dans l'export des données de la personne (R22)."
)
from app.vocabulary import ArchivePurpose  # noqa: E402

LABELS[ArchivePurpose] = {
    "cell_meeting": "Une réunion de la cellule examine de nouveau le mineur",
    "new_signalement": "Un nouveau signalement du même mineur",
    "judicial_request": "Une demande du parquet ou d'un juge",
    "subject_access": "La personne exerce son droit d'accès",
    "complaint": "Une réclamation ou un litige sur la situation",
    "other": "Autre motif, précisé dans le texte",
}
# An access granted before its purpose was asked (migration 0015).
ARCHIVE_PURPOSE_NOT_ASKED = "Non demandé (accès antérieur)"


# --- what is not possible yet, and when it will be (issue 19) -------------------------------

from datetime import date  # noqa: E402 (appended with the sentences)

from app.documents.french import french_date  # noqa: E402

# A step the charter lets the user take, refused now by one of the procedure's guards: the
# sentence shown instead of its button, by the guard's refusal (its problem type). {day}: the
# day the guard names; {destination}: the orientation concerned. A refusal absent from here
# (a step already done, say) shows nothing.
WAITING: dict[str, str] = {
    "family-not-informed": (
        "La transmission aux services sociaux sera possible une fois la famille informée."
    ),
    "family-unreachable": (
        "La famille n'a pas pu être jointe : pas de transmission aux services sociaux. "
        "Orientez la situation ailleurs ou close-la pour ce motif."
    ),
    "no-social-coordinator": (
        "La transmission aux services sociaux sera possible une fois un coordinateur ou une "
        "coordinatrice sociale de territoire (CST) rattaché à la cellule : demandez-le à un "
        "administrateur."
    ),
    "not-transmitted": (
        "Le retour d'information ({destination}) sera possible une fois l'orientation transmise."
    ),
    "meeting-not-held-yet": (
        "La décision de la cellule pourra être saisie le jour de la réunion, le {day}."
    ),
    "one-month-rule": (
        "La situation pourra être examinée par une réunion de la cellule tenue à partir du "
        "{day}, un mois après sa réception."
    ),
}


def waiting(slug: str, *, day: date | None = None, destination: str | None = None) -> str | None:
    """When a step refused now by a guard (``slug``) will be possible, in a sentence."""
    sentence = WAITING.get(slug)
    if sentence is None:
        return None
    destination_text = label(Destination, destination) if destination else ""
    return sentence.format(day=french_date(day), destination=destination_text)


# An error page's link back (app.web.errors.back_of): home, the list, or where the user was.
BACK_TEXTS: dict[str, str] = {
    "/": "Revenir à l’accueil",
    "/dossiers": "Revenir à la liste des situations",
}


def back_text(target: str) -> str:
    return BACK_TEXTS.get(target, "Revenir à la page précédente")
