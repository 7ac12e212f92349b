"""The charter's Cedar policies, loaded and validated once, and the decisions asked of them.

``policies/schema.cedarschema`` and ``policies/charter.cedar`` are parsed and validated against
each other when the service starts; an invalid policy set stops it with the validator's message.

Decisions are memoised. Policies see a principal and a case only through their attributes, and
compare ids only with each other (the user with the submitter, with the note authors, the case's
cell with the user's cells). So each decision depends on a small *shape* (role, organisation,
origin, state, flags, "is the submitter", "is a member of the cell"...) and the engine evaluates
each shape once, on canonical entities built from it. A policy comparing an id with a constant
(``resource.cell == 12``) would break this, so the engine refuses to load one
(:func:`_check_ids_compared_with_ids_only`); ``tests/policy/test_engine.py`` checks memoised
answers against Cedar on real entities.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import cedarpy

_PACKAGE = Path(__file__).resolve().parents[1]
BLOCK_ACTIONS = (
    "read_workflow",
    "read_identity",
    "read_contact",
    "read_facts",
    "read_research",
    "read_own_research",
    "read_orientation",
    "read_feedback",
    "read_all_orientations",
)

# Canonical ids of the shapes' entities.
_USER, _OTHER_USER, _CELL, _OTHER_CELL, _CASE = 1, 2, 7, 8, "case"


class PolicyError(Exception):
    """The policy set cannot be loaded: the service must not start."""


def policies_dir() -> Path:
    """The repository's ``policies/`` in a checkout, the packaged copy in an installed wheel."""
    for candidate in (_PACKAGE.parent / "policies", _PACKAGE / "_policies"):
        if (candidate / "charter.cedar").exists():
            return candidate
    raise PolicyError("The policies are missing from this installation.")


def load_policy_set(
    schema_text: str, policies_text: str, what: str
) -> tuple[cedarpy.Schema, cedarpy.PolicySet]:
    """Parses a policy set and validates it against its schema; PolicyError says why not."""
    try:
        schema = cedarpy.Schema.from_str(schema_text)
        policies = cedarpy.PolicySet.from_str(policies_text)
    except ValueError as error:
        raise PolicyError(f"the {what} cannot be parsed: {error}") from error
    result = cedarpy.validate_policies(policies_text, schema)
    if not result.validation_passed:
        details = "; ".join(str(e) for e in result.errors)
        raise PolicyError(f"the {what} do not validate against the schema: {details}")
    return schema, policies


class PolicyEngine:
    def __init__(self, schema_text: str, policies_text: str) -> None:
        self.schema, self.policies = load_policy_set(schema_text, policies_text, "policies")
        _check_ids_compared_with_ids_only(policies_text)
        self.text = policies_text
        self._case_shape = lru_cache(maxsize=4096)(self._evaluate_case_shape)
        self._cell_shape = lru_cache(maxsize=1024)(self._evaluate_cell_shape)
        self._whole_shape = lru_cache(maxsize=256)(self._evaluate_whole_shape)

    @classmethod
    def from_dir(cls, directory: Path) -> PolicyEngine:
        return cls(
            (directory / "schema.cedarschema").read_text(),
            (directory / "charter.cedar").read_text(),
        )

    # --- shapes -------------------------------------------------------------------------------

    def case_decisions(
        self, user: dict[str, Any], case: dict[str, Any], actions: tuple[str, ...]
    ) -> dict[str, bool]:
        """``user`` and ``case`` are canonical shapes (see ``app.policy.decisions``)."""
        key = (_freeze(user), _freeze(case), actions)
        return dict(zip(actions, self._case_shape(*key), strict=True))

    def cell_decision(self, user: dict[str, Any], member: bool, action: str) -> bool:
        return bool(self._cell_shape(_freeze(user), member, action))

    def whole_decision(self, user: dict[str, Any], resource: str, action: str) -> bool:
        """An action on something Paris-wide that has no cell, no case and no attribute: the
        audit log as a whole (``AuditLog``, R23), the indicators of every cell (``Indicators``,
        R19). ``resource`` is the entity type; only the user's shape varies."""
        return bool(self._whole_shape(_freeze(user), resource, action))

    def _evaluate_case_shape(
        self, user: tuple[Any, ...], case: tuple[Any, ...], actions: tuple[str, ...]
    ) -> tuple[bool, ...]:
        user_attrs, case_attrs = dict(user), dict(case)
        context = {"destination": case_attrs.pop("context_destination", "")}
        entities = [_user_entity(user_attrs), _case_entity(case_attrs)]
        requests = [
            {
                "principal": f'User::"{_USER}"',
                "action": f'Action::"{action}"',
                "resource": f'Case::"{_CASE}"',
                "context": context if action == "record_feedback" else {},
            }
            for action in actions
        ]
        results = cedarpy.is_authorized_batch(requests, self.policies, entities, self.schema)
        _raise_on_errors(results)
        return tuple(result.allowed for result in results)

    def _evaluate_cell_shape(self, user: tuple[Any, ...], member: bool, action: str) -> bool:
        user_attrs = dict(user)
        user_attrs["cells"] = [_CELL] if member else [_OTHER_CELL]
        entities = [
            _user_entity(user_attrs),
            {"uid": {"type": "Cell", "id": str(_CELL)}, "attrs": {"id": _CELL}, "parents": []},
        ]
        request = {
            "principal": f'User::"{_USER}"',
            "action": f'Action::"{action}"',
            "resource": f'Cell::"{_CELL}"',
            "context": {},
        }
        [result] = cedarpy.is_authorized_batch([request], self.policies, entities, self.schema)
        _raise_on_errors([result])
        return bool(result.allowed)

    def _evaluate_whole_shape(self, user: tuple[Any, ...], resource: str, action: str) -> bool:
        entities = [
            _user_entity(dict(user)),
            {"uid": {"type": resource, "id": "whole"}, "attrs": {}, "parents": []},
        ]
        request = {
            "principal": f'User::"{_USER}"',
            "action": f'Action::"{action}"',
            "resource": f'{resource}::"whole"',
            "context": {},
        }
        [result] = cedarpy.is_authorized_batch([request], self.policies, entities, self.schema)
        _raise_on_errors([result])
        return bool(result.allowed)


# Attributes holding ids: the memoised shapes keep their relations, never their values.
ID_ATTRIBUTES = frozenset(
    {
        "id",
        "cell",
        "cells",
        "submitter",
        "research_authors",
        "archive_cases",
        "transfer_cell",
        "transferred_from",
        "agenda_attendees",
    }
)
_COMPARISONS = frozenset(
    {"==", "!=", "<", "<=", ">", ">=", "contains", "containsAll", "containsAny", "in", "like"}
)


def _check_ids_compared_with_ids_only(policies_text: str) -> None:
    """Refuses a policy that compares an id attribute with a literal value."""
    document = json.loads(cedarpy.policies_to_json_str(policies_text))
    for policy_id, policy in document.get("staticPolicies", {}).items():
        name = policy.get("annotations", {}).get("id", policy_id)
        for left, right in _comparisons(policy):
            if (_is_id(left) and _has_literal(right)) or (_is_id(right) and _has_literal(left)):
                raise PolicyError(
                    f"policy {name} compares an id with a constant: ids may only be compared "
                    "with other ids (see app/policy/engine.py)"
                )


def _comparisons(node: Any) -> Iterator[tuple[Any, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _COMPARISONS and isinstance(value, dict) and "left" in value:
                yield value["left"], value.get("right")
            yield from _comparisons(value)
    elif isinstance(node, list):
        for item in node:
            yield from _comparisons(item)


def _is_id(node: Any) -> bool:
    return isinstance(node, dict) and node.get(".", {}).get("attr") in ID_ATTRIBUTES


def _has_literal(node: Any) -> bool:
    if isinstance(node, dict):
        return "Value" in node or any(_has_literal(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_literal(v) for v in node)
    return False


def _freeze(attrs: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in attrs.items()))


def _user_entity(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "uid": {"type": "User", "id": str(_USER)},
        "attrs": {
            "id": _USER,
            "role": attrs["role"],
            "organisation": attrs["organisation"],
            "cells": list(attrs.get("cells", [_CELL])),
            "charter_accepted": attrs["charter_accepted"],
            "archive_cases": [_CASE] if attrs.get("archive_granted") else [],
        },
        "parents": [],
    }


def _case_entity(attrs: dict[str, Any]) -> dict[str, Any]:
    return {
        "uid": {"type": "Case", "id": _CASE},
        "attrs": {
            "id": _CASE,
            "cell": _CELL if attrs["in_cell"] else _OTHER_CELL,
            "state": attrs["state"],
            "origin": attrs["origin"],
            "submitter": _USER if attrs["is_submitter"] else _OTHER_USER,
            "on_agenda": attrs["on_agenda"],
            "destinations": sorted(attrs["destinations"]),
            "social_services_transmitted": attrs["social_services_transmitted"],
            "research_authors": [_USER] if attrs["is_author"] else [],
            "attendance_recorded": attrs.get("attendance_recorded", False),
            "agenda_attendees": [_USER] if attrs.get("attended") else [],
            **_transfer_attrs(attrs),
        },
        "parents": [],
    }


def _transfer_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """Issue 16: a pending transfer's cell (absent when none is pending) and the cells the
    case has left, as relations with the caller's cells."""
    found: dict[str, Any] = {
        "transferred_from": [_CELL] if attrs.get("from_my_cell") else [],
    }
    in_transfer_cell = attrs.get("in_transfer_cell")
    if in_transfer_cell is not None:
        found["transfer_cell"] = _CELL if in_transfer_cell else _OTHER_CELL
    return found


def _raise_on_errors(results: list[cedarpy.AuthzResult]) -> None:
    for result in results:
        if result.diagnostics.errors:
            raise PolicyError(f"policy evaluation failed: {result.diagnostics.errors}")


@lru_cache(maxsize=1)
def get_engine() -> PolicyEngine:
    """The service's engine, loaded once (at start-up: ``create_app`` calls it)."""
    return PolicyEngine.from_dir(policies_dir())
