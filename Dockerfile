# cenomed: a two-stage build. The build stage installs the package and its pinned dependencies
# into a virtual environment; the runtime stage copies that environment alone (no compiler, no
# pip, no cache, no tests/bench/docs) and runs it as a non-root user with a fixed uid/gid.
# Every dependency ships a manylinux wheel for CPython 3.11, so no build tools are needed; the
# runtime stage adds the few Debian libraries and fonts the PDF renderer loads.
#
#   docker build -t cenomed .
#   docker run --rm -v cenomed-data:/var/lib/cenomed cenomed cenomed init    # once, as the owner
#   docker run -d -p 8000:8000 -v cenomed-data:/var/lib/cenomed cenomed
#
# Production (PostgreSQL, secrets, probes, backups): docs/deployment.md. To build from a
# registry mirror or a digest-pinned base: --build-arg PYTHON_IMAGE=registry/python:3.11-slim@sha256:...

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/cenomed
# What the wheel build needs (pyproject.toml's force-include): the package, its migrations,
# alembic.ini and the policies; README.md is the project's readme.
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY policies ./policies
# The last line proves the wheel carries the migrations and both policy sets.
RUN /opt/cenomed/bin/pip install --constraint constraints.txt . \
 && /opt/cenomed/bin/pip uninstall --yes setuptools pip \
 && /opt/cenomed/bin/python -c "from app import migrate; from app.policy.engine import get_engine; from app.retention.policy import get_retention_policy; migrate.migrations_dir(); get_engine(); get_retention_policy()"

FROM ${PYTHON_IMAGE} AS runtime
# pg_dump is deliberately absent: 'cenomed backup' of a PostgreSQL database runs from an
# operator host or a sidecar whose pg_dump matches the server's major version
# (docs/deployment.md, "Backup and restore").
ARG CENOMED_UID=10001
ARG CENOMED_GID=10001
# The printed documents (app/documents): WeasyPrint renders with Debian's Pango (and HarfBuzz,
# whose subsetter makes the embedded fonts small) and the print stylesheet's DejaVu Sans.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid "${CENOMED_GID}" cenomed \
 && useradd --uid "${CENOMED_UID}" --gid "${CENOMED_GID}" --no-create-home \
        --home-dir /var/lib/cenomed --shell /usr/sbin/nologin cenomed \
 && install -d -o cenomed -g cenomed -m 0700 /var/lib/cenomed /tmp/cenomed-metrics \
 && if python -m pip --version > /dev/null 2>&1; then \
        python -m pip uninstall --yes --root-user-action=ignore pip setuptools wheel; \
    fi
COPY --from=build /opt/cenomed /opt/cenomed
ENV PATH=/opt/cenomed/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CENOMED_DATA_DIR=/var/lib/cenomed \
    CENOMED_WORKERS=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/cenomed-metrics
# Proves the image prints: the libraries load and a document renders with the installed fonts.
RUN python -c "from app.documents.pdf import render_pdf; assert render_pdf('<p>x</p>')[:5] == b'%PDF-'"
USER ${CENOMED_UID}:${CENOMED_GID}
WORKDIR /var/lib/cenomed
EXPOSE 8000
# Liveness only (the process answers); the orchestrator's readiness probe is
# GET /api/v1/health/ready. No curl in a slim image: Python's urllib does it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4)"]
# The schema is migrated by 'cenomed init', run once per release as a one-shot job with the
# owner role, before the rollout; the workers never migrate. CENOMED_WORKERS sets the workers.
CMD ["cenomed", "serve", "--host", "0.0.0.0", "--port", "8000"]
