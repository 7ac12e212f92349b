"""axe-core in the page: every screen the browser tests visit is checked against the WCAG 2.0
and 2.1 A and AA rules (what RGAA 4.1 builds on), and none may have a serious or critical
violation.

The script (``npm ci --prefix tests/browser``, pinned by its lock file) is evaluated through
the DevTools protocol, so the pages' Content-Security-Policy stays as strict as it is (no
inline script is added to them). A failure names the rules and the elements' selectors, never
the page's text (it may be nominative).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING = {"serious", "critical"}
_RUN = """async (tags) => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: tags},
    resultTypes: ["violations"],
  });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.map(String).join(" ")),
  }));
}"""
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class Violation:
    id: str
    impact: str
    help: str
    targets: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.id} ({self.impact}): {self.help} at {', '.join(self.targets)}"


# Screen -> the violations seen there ("rule:impact"), for the run's summary.
CHECKED: dict[str, Counter[str]] = {}
_source: str | None = None


def screen_of(page: Page, name: str | None = None) -> str:
    """The screen's name: its path, case and orientation ids replaced by ``{id}``."""
    path = _ID.sub("{id}", page.url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0])
    return name or "/" + path


def violations(page: Page) -> list[Violation]:
    global _source
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        if _source is None:
            _source = SCRIPT.read_text(encoding="utf-8")
        page.evaluate(_source)
    found: list[dict[str, Any]] = page.evaluate(_RUN, TAGS)
    return [Violation(v["id"], v["impact"] or "", v["help"], tuple(v["targets"])) for v in found]


def check(page: Page, name: str | None = None) -> None:
    """Fails on any serious or critical WCAG 2.1 A/AA violation on the page as it is now."""
    screen = screen_of(page, name)
    found = violations(page)
    blocking = [v for v in found if v.impact in BLOCKING]
    seen = CHECKED.setdefault(screen, Counter())
    seen.update(f"{v.id}:{v.impact}" for v in found)
    assert not blocking, f"axe on {screen}:\n" + "\n".join(str(v) for v in blocking)


def summary() -> str:
    lines = [f"axe-core ({', '.join(TAGS)}) on {len(CHECKED)} screens:"]
    for screen, seen in sorted(CHECKED.items()):
        lines.append(f"  {screen}: {', '.join(sorted(seen)) or 'no violation'}")
    return "\n".join(lines)
