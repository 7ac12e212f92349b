"""The retention rules (R18) as Cedar policies: ``policies/retention.cedar``.

The periods live in the policy, not here: this module only describes a case to it (dates and
flags, never a name) and reads which rules apply. Each rule carries an ``@id``; the answer is
the ids of the rules that destroy the case, so a dry run can say why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

import cedarpy

from app.policy.engine import PolicyError, load_policy_set, policies_dir


@dataclass(frozen=True, slots=True)
class RetentionFacts:
    """What the rules look at for one case."""

    state: str
    presented: bool
    birth_month_on: date | None
    parquet_decided_at: datetime | None = None
    closed_at: datetime | None = None


class RetentionPolicy:
    def __init__(self, schema_text: str, policies_text: str) -> None:
        self.schema, self.policies = load_policy_set(
            schema_text, policies_text, "retention policies"
        )
        document = json.loads(cedarpy.policies_to_json_str(policies_text))
        # Cedar answers with its own policy ids (policy0...): the rules' names are the @ids.
        self.rule_ids = {
            policy_id: policy.get("annotations", {}).get("id", policy_id)
            for policy_id, policy in document.get("staticPolicies", {}).items()
        }

    def rules_destroying(self, facts: RetentionFacts, as_of: date) -> list[str]:
        """The @ids of the rules under which this case is destroyed on ``as_of`` (none: kept)."""
        context: dict[str, Any] = {
            "as_of": _datetime(datetime.combine(as_of, datetime.min.time(), UTC)),
            "presented": facts.presented,
            "age_years": _age_years(facts.birth_month_on, as_of),
        }
        if facts.parquet_decided_at is not None:
            context["parquet_decided_at"] = _datetime(facts.parquet_decided_at)
        if facts.closed_at is not None:
            context["closed_at"] = _datetime(facts.closed_at)
        request = {
            "principal": 'Retention::"purge"',
            "action": 'Action::"destroy"',
            "resource": 'Case::"case"',
            "context": context,
        }
        entities = [
            {"uid": {"type": "Retention", "id": "purge"}, "attrs": {}, "parents": []},
            {"uid": {"type": "Case", "id": "case"}, "attrs": {"state": facts.state}, "parents": []},
        ]
        result = cedarpy.is_authorized(request, self.policies, entities, self.schema)
        if result.diagnostics.errors:
            raise PolicyError(f"retention evaluation failed: {result.diagnostics.errors}")
        if not result.allowed:
            return []
        return sorted(self.rule_ids.get(r, r) for r in result.diagnostics.reasons)


def _datetime(moment: datetime) -> dict[str, Any]:
    stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"__extn": {"fn": "datetime", "arg": stamp}}


def _age_years(birth_month_on: date | None, on: date) -> int:
    """Whole years since the first day of the birth month: never later than the real age."""
    if birth_month_on is None:
        return 0
    years = on.year - birth_month_on.year
    return years if (on.month, on.day) >= (birth_month_on.month, 1) else years - 1


def birth_month(birth_date: date) -> date:
    """What a case keeps of the birth date for retention: its month (less than the date)."""
    return birth_date.replace(day=1)


@lru_cache(maxsize=1)
def get_retention_policy() -> RetentionPolicy:
    directory = policies_dir()
    return RetentionPolicy(
        (directory / "retention.cedarschema").read_text(),
        (directory / "retention.cedar").read_text(),
    )
