"""HTML to PDF for printable documents, without fetching anything.

The HTML carries nominative data, so a document must never reach the network or the file
system: every URL it names (an image, a stylesheet, a font, an attachment) is refused but
``data:`` URLs, decoded in memory. The print stylesheet is therefore not linked but embedded
in the document by the template (``print_css``, from ``print.css`` next to this module).

WeasyPrint logs what it could not load or parse with the URL or the text at fault: its records
keep their message's template without the values, and a message built with the values already
in it (an f-string) is withheld, so that nothing from a document reaches the logs.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.request import DataHandler, Request

from markupsafe import Markup

from app.documents.french import french_date, french_typography

__all__ = ["PRINT_CSS", "FetchRefused", "banner", "french_typography", "render_pdf"]

# Trusted text of this package, marked safe: escaped, it would break inside <style>.
PRINT_CSS = Markup((Path(__file__).parent / "print.css").read_text(encoding="utf-8"))  # noqa: S704


class FetchRefused(Exception):
    """A document named a resource outside itself: printing never fetches one."""


def _refuse_all_but_data(url: str) -> dict[str, Any]:
    if url[:5].lower() != "data:":
        # No URL in the message: WeasyPrint logs the exception's text.
        raise FetchRefused("documents load nothing from outside themselves")
    # Only the data: handler, never an opener that could follow another scheme.
    with DataHandler().data_open(Request(url)) as response:  # noqa: S310
        return {"string": response.read(), "mime_type": response.headers.get_content_type()}


class _NoDocumentValues(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not record.args:
            record.msg = "message withheld: it may quote the document"
        record.args = None
        return True


for _name in ("weasyprint", "weasyprint.progress"):
    logging.getLogger(_name).addFilter(_NoDocumentValues())


def render_pdf(html: str) -> bytes:
    """The PDF of a complete HTML document (its CSS inline), nothing fetched."""
    # Imported here, not with the web pages: it loads Pango, HarfBuzz and fontconfig, which
    # only a printed document needs.
    from weasyprint import HTML

    pdf = HTML(string=html, url_fetcher=_refuse_all_but_data).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


def banner(account: str, at: datetime) -> str:
    """The confidentiality line every page of a document carries: who printed it and when."""
    return f"Confidentiel — document nominatif — {account} — {french_date(at)}"
