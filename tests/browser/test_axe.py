"""The accessibility check itself: axe-core does find a blocking violation, and the failure
names the rule and the element's selector, never the page's text."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser import axe

PAGE = (
    '<!doctype html><html lang="fr"><head><title>Essai</title></head><body><main>'
    '<h1>Essai</h1><p>Zyxwavel</p><input id="sans-etiquette" type="text"></main></body></html>'
)


def test_a_field_without_a_label_fails_the_check(browser: Browser) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(PAGE)
        found = {(v.id, v.impact) for v in axe.violations(page)}
        assert ("label", "critical") in found
        with pytest.raises(AssertionError) as failure:
            axe.check(page, "self-test")
        assert "#sans-etiquette" in str(failure.value)
        assert "Zyxwavel" not in str(failure.value)
    finally:
        axe.CHECKED.pop("self-test", None)
        context.close()
