"""Printed documents: the banner and "Page n / N" on every page, table headers repeated, French
spacing kept in the PDF's text, and nothing fetched from the network or the file system."""

from __future__ import annotations

import base64
import io
import logging
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from markupsafe import Markup
from PIL import Image
from pypdf import PdfReader

from app.documents import pdf
from app.documents.french import french_typography
from app.documents.pdf import FetchRefused, banner, render_pdf
from app.web.rendering import templates

NBSP = "\u00a0"
NNBSP = "\u202f"
AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
BANNER = "Confidentiel — document nominatif — jdupont — 7 décembre 2026 à 09:30"
ROWS = 150
HEADER = "Référence fictive Observation de séance"

LONG_DOCUMENT = """{% extends "print/_document.html" %}
{% block title %}Ordre du jour (exemple fictif){% endblock %}
{% block content %}
<h1>Séance fictive</h1>
<p>{{ decision|french }}</p>
<table>
<thead><tr><th>Référence fictive</th><th>Observation de séance</th></tr></thead>
<tbody>
{% for i in range(rows) %}
<tr><td>REF-{{ "%03d" % i }}</td>
<td>Début-{{ "%03d" % i }} une observation inventée assez longue pour tenir sur plusieurs
lignes de la cellule, afin qu'une ligne coupée entre deux pages se voie
Fin-{{ "%03d" % i }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endblock %}"""


def _document(template: str, **context: Any) -> str:
    return templates.env.from_string(template).render(banner=banner("jdupont", AT), **context)


def _pages(document: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(document)).pages]


@pytest.fixture(scope="module")
def long_pages() -> list[str]:
    html = _document(LONG_DOCUMENT, rows=ROWS, decision="Décision: reportée; motif? « à revoir »")
    return _pages(render_pdf(html))


def test_the_web_pages_do_not_load_the_renderer() -> None:
    """Pango and HarfBuzz load with the first printed document, not in every worker."""
    code = "import sys, app.main; assert 'weasyprint' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])


def test_banner_is_who_printed_and_when_in_paris_time() -> None:
    assert banner("jdupont", AT) == BANNER
    # Summer time: UTC+2.
    assert banner("a.martin", datetime(2026, 7, 1, 22, 5, tzinfo=UTC)) == (
        "Confidentiel — document nominatif — a.martin — 2 juillet 2026 à 00:05"
    )


def test_every_page_carries_the_banner_and_its_number(long_pages: list[str]) -> None:
    total = len(long_pages)
    assert total >= 3
    for number, text in enumerate(long_pages, start=1):
        assert text.count(BANNER) == 1, number
        assert re.findall(r"Page (\d+) / (\d+)", text) == [(str(number), str(total))]


def test_a_long_table_repeats_its_header_and_keeps_its_rows_whole(
    long_pages: list[str],
) -> None:
    for number, text in enumerate(long_pages, start=1):
        # The header's cells wrap: compare the words.
        assert " ".join(text.split()).count(HEADER) == 1, number
    # Each row once, its first and last words on the same page.
    for i in range(ROWS):
        pages = [n for n, text in enumerate(long_pages) if f"REF-{i:03d}" in text]
        assert len(pages) == 1, i
        assert f"Début-{i:03d}" in long_pages[pages[0]], i
        assert f"Fin-{i:03d}" in long_pages[pages[0]], i


def test_french_spacing_survives_in_the_pdf_text(long_pages: list[str]) -> None:
    assert f"Décision{NBSP}: reportée{NNBSP}; motif{NNBSP}? «{NBSP}à revoir{NBSP}»" in long_pages[0]


# Typography, on both sides of each rule.
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Décision: reportée", f"Décision{NBSP}: reportée"),
        ("Décision : reportée", f"Décision{NBSP}: reportée"),
        (f"Décision{NBSP}: reportée", f"Décision{NBSP}: reportée"),
        (f"Décision {NBSP} : reportée", f"Décision{NBSP}: reportée"),
        (f"Décision{NNBSP}: reportée", f"Décision{NBSP}: reportée"),
        ("Motif :", f"Motif{NBSP}:"),
        ("Séance à 14:30", "Séance à 14:30"),
        ("voir https://x", "voir https://x"),
        ("réf. urn:cenomed:42", "réf. urn:cenomed:42"),
        ("a; b", f"a{NNBSP}; b"),
        ("a ; b", f"a{NNBSP}; b"),
        ("a;b", "a;b"),
        ("Vraiment?", f"Vraiment{NNBSP}?"),
        ("Vraiment ?", f"Vraiment{NNBSP}?"),
        ("https://x.fr/page?id=3", "https://x.fr/page?id=3"),
        ("Non!", f"Non{NNBSP}!"),
        ("Quoi?!", f"Quoi{NNBSP}?!"),
        ("Quoi ?!", f"Quoi{NNBSP}?!"),
        ("Non !!!", f"Non{NNBSP}!!!"),
        ("(vraiment?)", f"(vraiment{NNBSP}?)"),
        ("«oui»", f"«{NBSP}oui{NBSP}»"),
        ("« oui »", f"«{NBSP}oui{NBSP}»"),
        (f"«{NBSP}oui{NBSP}»", f"«{NBSP}oui{NBSP}»"),
        ("« Vraiment ? »", f"«{NBSP}Vraiment{NNBSP}?{NBSP}»"),
        ("Il dit « non ».", f"Il dit «{NBSP}non{NBSP}»."),
        # Nothing is added at the start of a line.
        ("Motif\n: absent", "Motif\n: absent"),
        (": en tête", ": en tête"),
        ("« \nsuite", "« \nsuite"),
        ("", ""),
    ],
)
def test_french_typography(text: str, expected: str) -> None:
    assert french_typography(text) == expected


def test_the_french_filter_goes_before_escaping() -> None:
    env = templates.env
    rendered = env.from_string("{{ text|french }}").render(text="<b>Motif: a & b</b>")
    assert rendered == f"&lt;b&gt;Motif{NBSP}: a &amp; b&lt;/b&gt;"
    # Escaped first, the ";" of "&amp;" would be spaced and the entity broken.
    with pytest.raises(TypeError):
        env.from_string("{{ text|e|french }}").render(text="a & b")
    with pytest.raises(TypeError):
        french_typography(Markup("a &amp; b"))


# Nothing is fetched.
class _Recorder(BaseHTTPRequestHandler):
    paths: list[str]  # what the test server was asked (one list per server)

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # not on the test's output


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    paths: list[str] = []
    handler = type("Handler", (_Recorder,), {"paths": paths})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", paths
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """The URLs the renderer asked its fetcher for, and whether each was refused."""
    calls: list[tuple[str, bool]] = []
    fetch = pdf._refuse_all_but_data

    def spy(url: str) -> dict[str, Any]:
        try:
            result = fetch(url)
        except FetchRefused:
            calls.append((url, True))
            raise
        calls.append((url, False))
        return result

    monkeypatch.setattr(pdf, "_refuse_all_but_data", spy)
    return calls


def test_a_document_fetches_nothing(
    server: tuple[str, list[str]], asked: list[tuple[str, bool]], tmp_path: Path
) -> None:
    base, requests = server
    # Were it read, this local stylesheet would print its marker.
    local_css = tmp_path / "local.css"
    local_css.write_text('body::after { content: "LOCAL-FILE-READ" }', encoding="utf-8")
    html = f"""<!DOCTYPE html><html lang="fr"><head>
<link rel="stylesheet" href="file:///etc/passwd">
<link rel="stylesheet" href="{local_css.as_uri()}">
<link rel="stylesheet" href="{base}/style.css">
<style>
@import url("{base}/imported.css");
@font-face {{ font-family: Distante; src: url("{base}/font.woff2"); }}
p {{ font-family: Distante, "DejaVu Sans"; background: url("{base}/fond.png"); }}
</style></head><body>
<p>Contenu du document</p>
<img src="{base}/x.png" alt="image distante">
<img src="file:///etc/passwd" alt="fichier local">
</body></html>"""
    pages = _pages(render_pdf(html))

    assert "Contenu du document" in pages[0]
    assert requests == []
    assert "root:" not in "".join(pages)
    assert "LOCAL-FILE-READ" not in "".join(pages)
    refused = {url for url, was_refused in asked if was_refused}
    assert {
        "file:///etc/passwd",
        local_css.as_uri(),
        f"{base}/style.css",
        f"{base}/imported.css",
        f"{base}/font.woff2",
        f"{base}/fond.png",
        f"{base}/x.png",
    } <= refused
    assert all(was_refused for _, was_refused in asked)
    # The server does record what it is asked: its silence above means something.
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(f"{base}/probe", timeout=5)  # noqa: S310
    assert requests == ["/probe"]


def test_data_urls_are_read_in_memory(asked: list[tuple[str, bool]]) -> None:
    png = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(png, format="PNG")
    image = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()
    css = "data:text/css,body::after%7Bcontent:%22FEUILLE-EN-DATA%22%7D"
    html = f"""<!DOCTYPE html><html lang="fr"><head><link rel="stylesheet" href="{css}">
</head><body><p>Avec image</p><img src="{image}" alt="carré rouge"></body></html>"""
    document = render_pdf(html)

    reader = PdfReader(io.BytesIO(document))
    assert "FEUILLE-EN-DATA" in reader.pages[0].extract_text()
    assert len(reader.pages[0].images) == 1
    assert sorted(asked) == sorted([(css, False), (image, False)])


def test_no_url_or_text_of_a_document_reaches_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    render_pdf(
        '<html><body><img src="http://127.0.0.1:9/Zyxwavel-Lucie.png" alt="x">'
        '<p style="colour: Zyxwavel">Texte</p></body></html>'
    )
    weasyprint_records = [r for r in caplog.records if r.name.startswith("weasyprint")]
    assert weasyprint_records
    assert "Zyxwavel" not in caplog.text
