"""Where a browser goes back to after signing in or accepting the charter.

A return address comes from the visitor (a ``suite`` query parameter, a hidden form field),
so it is an open-redirect vector: browsers drop tabs and line breaks from URLs and read a
backslash as a slash, so ``/<TAB>/host`` or ``/\\host`` leave the site although they start
with one slash. Every return address goes through :func:`safe_return`, which keeps only a
path (and query) of this service and falls back to the landing page otherwise: ``/``, which
sends each role to its own home (:func:`home_of`).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit, urlunsplit

from app.vocabulary import Role

# The list of my cases (and the prefix of a case's page).
HOME = "/dossiers"
# Where a signed-in visitor lands: ``/``, which leads to their role's home (issue 19).
LANDING = "/"
# What awaits a cell's members (issue 18): their home.
WORKLIST = "/a-faire"
AUDIT_JOURNAL = "/audit"
INDICATORS = "/indicateurs"
ADMIN = "/admin"
SIGN_IN = "/connexion"
CHARTER = "/charte"
MAX_RETURN_LENGTH = 2000


def home_of(role: Role) -> str:
    """Each role's first screen: the Paris-wide roles have no cell and so no worklist; the
    auditor's home is the journal, the steering committee's the indicators, the
    administrator's the accounts."""
    return {Role.AUDITOR: AUDIT_JOURNAL, Role.STEERING: INDICATORS, Role.ADMIN: ADMIN}.get(
        role, WORKLIST
    )


def safe_return(target: object) -> str:
    """``target`` as a same-origin path with its query, or the landing page.

    Refused: anything but a non-empty string of reasonable length; any control, format
    (bidi, zero-width) or separator character, any whitespace, any backslash (a browser
    strips or rewrites them before resolving); a scheme or a host; a path not starting with
    exactly one slash; the sign-in pages themselves (a loop).
    """
    if not isinstance(target, str) or not target or len(target) > MAX_RETURN_LENGTH:
        return LANDING
    if any(_unsafe(character) for character in target):
        return LANDING
    parts = urlsplit(target)
    path = parts.path
    if parts.scheme or parts.netloc or not path.startswith("/") or path.startswith("//"):
        return LANDING
    if path == SIGN_IN or path.startswith(SIGN_IN + "/"):
        return LANDING
    return urlunsplit(("", "", path, parts.query, ""))


def _unsafe(character: str) -> bool:
    return (
        character == "\\"
        or character.isspace()
        or unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")
    )
