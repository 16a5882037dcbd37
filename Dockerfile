# pyconvex deployment image: `pyconvex serve` as a non-root user.
#
#   make dashboard        # the dashboard page, built from dashboard/ into pyconvex/ (Node.js)
#   docker build -t pyconvex .
#   docker run -p 3210:3210 -p 3211:3211 -v pyconvex-data:/data \
#     -e PYCONVEX_ADMIN_KEY="$(openssl rand -hex 16)" pyconvex
#
# SQLite and uploaded files live in the /data volume by default; for PostgreSQL set
# PYCONVEX_DB=postgresql://user:password@host/db (files stay in /data/files, or set
# PYCONVEX_FILES=s3://bucket/prefix). See docs/production.md.
#
# BASE is any Debian-like image with Python 3.11+ as `python` (with venv and pip): the
# official python image by default, or one made locally (docs/production.md shows one
# built with debootstrap, for machines that cannot pull from a registry).
ARG BASE=python:3.12-slim-bookworm

# ---- build: a virtualenv with pyconvex and its dependencies (all from wheels)
FROM ${BASE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/pyconvex
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY pyconvex ./pyconvex
RUN /opt/pyconvex/bin/pip install ".[s3]"

# ---- run: the virtualenv only, no build tools, no source tree
FROM ${BASE}
RUN groupadd --system --gid 10001 pyconvex \
    && useradd --system --uid 10001 --gid pyconvex --home-dir /data --shell /usr/sbin/nologin pyconvex \
    && mkdir -p /data \
    && chown pyconvex:pyconvex /data
COPY --from=build /opt/pyconvex /opt/pyconvex
ENV PATH=/opt/pyconvex/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYCONVEX_DB=sqlite:////data/db.sqlite3 \
    PYCONVEX_FILES=/data/files \
    PYCONVEX_PORT=3210 \
    PYCONVEX_SITE_PORT=3211
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 3210 3211
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PYCONVEX_PORT'] + '/health', timeout=4)"]
# PYCONVEX_DB, PYCONVEX_FILES, PYCONVEX_ADMIN_KEY, PYCONVEX_FUNCTIONS,
# PYCONVEX_PUBLIC_URL and PYCONVEX_SITE_URL are read by `pyconvex serve` itself.
CMD ["sh", "-c", "exec pyconvex serve --host 0.0.0.0 --port \"$PYCONVEX_PORT\" --site-port \"$PYCONVEX_SITE_PORT\""]
