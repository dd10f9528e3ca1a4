# syntax=docker/dockerfile:1
# mlineage's server image: `mlineage serve` (gRPC on 8080, HTTP on 8081) as a non-root user.
#   docker build -t mlineage .
#   docker run -p 8080:8080 -p 8081:8081 mlineage                  # embedded SQLite in /var/lib/mlineage
#   docker run -e MLINEAGE_DB=postgresql://USER:PASSWORD@HOST/DB mlineage
# Two stages: the build stage installs mlineage with uv into the venv /opt/mlineage (deploy/image/install.sh,
# the same script the tests lay a venv out with); the final stage is the slim base plus that venv, with no
# compiler, pip or uv. Every dependency installs from a wheel, so neither stage needs build tools.
# docs/deploy.md describes the image, its environment and its health check.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mlineage ./mlineage
COPY deploy/image/install.sh /usr/local/bin/mlineage-install
RUN --mount=type=cache,target=/root/.cache/uv mlineage-install /opt/mlineage /src

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="mlineage" \
      org.opencontainers.image.description="ML metadata and lineage store: MLMD's gRPC API, REST, history" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 mlineage \
    && useradd --system --uid 10001 --gid mlineage --home-dir /var/lib/mlineage --create-home \
       --shell /usr/sbin/nologin mlineage
COPY --from=build /opt/mlineage /opt/mlineage
COPY deploy/image/healthcheck.py /opt/mlineage/healthcheck.py
# The entrypoint's environment (tests/deploy/test_image.py runs the entrypoint with exactly these):
# serve's ports, JSON logs, and no SQLite URL, so that with no MLINEAGE_DB the embedded database is
# ./mlineage.db in the working directory, the mlineage user's own /var/lib/mlineage (mount a volume there).
ENV PATH=/opt/mlineage/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MLINEAGE_GRPC_PORT=8080 \
    MLINEAGE_HTTP_PORT=8081 \
    MLINEAGE_LOG_FORMAT=json
WORKDIR /var/lib/mlineage
USER 10001:10001
EXPOSE 8080 8081
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "/opt/mlineage/healthcheck.py"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["mlineage", "serve"]
CMD ["--host", "0.0.0.0", "--auth", "tokens"]
