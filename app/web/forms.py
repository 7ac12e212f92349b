"""A form sent back to the person who filled it: what they typed, and what is wrong where.

The pages validate what is posted with the API's own schemas and service functions (one
validation, not two). Their refusals, pydantic's and the procedure's (``InvalidInput`` with
its ``errors``, ``Conflict``), are turned here into a message per field, in French, so that
the page shows each one on its field and keeps every value typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from app.errors import AppError
from app.web import labels

# The whole form, rather than one of its fields.
FORM = "form"


@dataclass(frozen=True)
class SentBack:
    """A form refused: which one (``name``), the values typed, a message per field."""

    name: str
    values: Mapping[str, Any]
    errors: Mapping[str, str] = field(default_factory=dict)

    def value(self, name: str) -> Any:
        return self.values.get(name, "")


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def first_part(loc: tuple[str, ...]) -> str:
    """The form field of an error's place, when the form's fields are the body's keys."""
    return loc[0] if loc else FORM


def field_errors(
    items: Iterable[Mapping[str, Any]],
    place: Callable[[tuple[str, ...]], str] = first_part,
) -> dict[str, str]:
    """A French message per form field, the first error of each field winning.

    ``items`` are errors as pydantic reports them (``loc``, ``type``, ``ctx``), from a
    ``ValidationError`` or from an ``InvalidInput`` problem's ``errors``; ``place`` names the
    form field of a place in the body (``body`` itself left out)."""
    errors: dict[str, str] = {}
    for item in items:
        loc = tuple(str(part) for part in item.get("loc", ()))
        if loc[:1] == ("body",):
            loc = loc[1:]
        errors.setdefault(place(loc), labels.field_error(str(item.get("type")), item.get("ctx")))
    return errors


def refusal_errors(
    error: AppError, place: Callable[[tuple[str, ...]], str] = first_part
) -> dict[str, str]:
    """The messages of a refusal by the service: on their fields where it names them, else
    the refusal's own sentence for the whole form."""
    items = error.extra.get("errors")
    if isinstance(items, list) and items:
        return field_errors(items, place)
    return {FORM: labels.problem_text(error.status, error.slug)[1]}
