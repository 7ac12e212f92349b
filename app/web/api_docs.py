"""The API's interactive documentation (Swagger UI) at ``/docs``, served offline.

Swagger UI is the vendored ``swagger-ui-dist`` (``static/vendor/README.md``: version, licence,
SHA-256), so the page works on a network without internet access and loads nothing from
another origin. It is the page where people paste bearer tokens ("Authorize"): it gets the
pages' Content-Security-Policy (``WEB_CSP``: scripts and styles from this site only, no
inline script, no eval, requests to this site only), so it is started by a static script of
ours (``static/swagger-init.js``) rather than FastAPI's inline one. Swagger UI sets its
element styles through the DOM (allowed by ``style-src 'self'``) and its style sheet's icons
are ``data:`` images (``img-src 'self' data:``). The token stays in the page's memory
(``persistAuthorization`` is off): it is gone when the tab is closed or reloaded.

ReDoc is not served: its styles are ``<style>`` elements it injects (styled-components: they
need ``'unsafe-inline'`` or a per-request nonce) and its search runs in a web worker made from a
``blob:`` URL, which this policy refuses; ``/redoc`` is a 404 like any unknown path.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.web.rendering import WEB_CSP, templates

SWAGGER_UI_VERSION = "5.36.0"
SWAGGER_UI = f"/static/vendor/swagger-ui-{SWAGGER_UI_VERSION}"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
def api_documentation(request: Request) -> HTMLResponse:
    response = templates.TemplateResponse(
        request,
        "api_docs.html",
        {"swagger_ui": SWAGGER_UI, "openapi_url": request.app.openapi_url},
    )
    response.headers["content-security-policy"] = WEB_CSP
    response.headers["cache-control"] = "no-store"
    return response
