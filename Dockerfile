# cenomed: multi-stage build; the runtime image runs as a non-root user.
FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/cenomed
COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN /opt/cenomed/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/cenomed/bin/pip install --no-cache-dir --constraint constraints.txt .

FROM python:3.11-slim AS runtime
RUN groupadd --system cenomed && useradd --system --gid cenomed --home-dir /var/lib/cenomed cenomed \
 && mkdir -p /var/lib/cenomed && chown cenomed:cenomed /var/lib/cenomed && chmod 700 /var/lib/cenomed
COPY --from=build /opt/cenomed /opt/cenomed
ENV PATH=/opt/cenomed/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CENOMED_DATA_DIR=/var/lib/cenomed
USER cenomed
WORKDIR /var/lib/cenomed
EXPOSE 8000
# The schema is migrated by 'cenomed init' (run once per deployment, or as an init container).
CMD ["cenomed", "serve", "--host", "0.0.0.0", "--port", "8000"]
