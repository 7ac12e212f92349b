"""Building blocks shared by the request and response schemas."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class StrictInput(BaseModel):
    """Request bodies refuse unknown fields: a typo or an extra field is a 422, never ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
School = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 .()-]{6,25}$")]
# R20: the free-text account is optional and bounded.
FactsText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
NoteText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
