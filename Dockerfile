# One image for every SpendSense Python process (collectors, detector worker, model service,
# actions worker, API, projector); docker-compose.yml picks the command per service.
# Targets: the default (last) stage is production; `--target sandbox` adds the sandbox AWS
# account (moto, trace fleets) that the deployment test runs beside the stack.

# --- dashboard assets (Tailwind CSS, Chart.js) ---
FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ui/ ./
RUN npm run --silent build

# --- dependencies, built where a compiler is at hand; only the venv goes on ---
FROM python:3.11-slim-bookworm AS deps
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/* \
    && python -m venv /opt/spendsense
ENV PATH=/opt/spendsense/bin:$PATH
COPY pyproject.toml ./
# The production dependencies only (pyproject's [project] dependencies: no sandbox, no dev),
# and its build requirements, so the code's install below needs no download.
RUN python -c "import subprocess, sys, tomllib; \
meta = tomllib.load(open('pyproject.toml', 'rb')); \
deps = meta['build-system']['requires'] + meta['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', *deps])"

# --- Python services ---
FROM python:3.11-slim-bookworm AS production
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/spendsense/bin:$PATH \
    SPENDSENSE_METRICS_HOST=0.0.0.0 \
    SPENDSENSE_VAR_DIR=/app/var \
    BENTOML_HOME=/tmp/bentoml
RUN useradd --system --create-home --uid 10001 spendsense
WORKDIR /app
COPY --from=deps /opt/spendsense/ /opt/spendsense/

# The code, installed in place so the tree's paths (ui/, var/) are where settings expect them.
COPY pyproject.toml README.md ./
COPY spendsense/ spendsense/
COPY ingest/ ingest/
COPY detector/ detector/
COPY actions/ actions/
COPY api/ api/
COPY projector/ projector/
COPY ui/templates/ ui/templates/
COPY --from=ui /src/ui/dist/ ui/dist/
COPY deploy/docker/ deploy/docker/
RUN pip install --quiet --no-deps --no-build-isolation -e . \
    && mkdir -p var/detector \
    && chown -R spendsense:spendsense var

USER spendsense
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["spendsense", "--help"]

# --- the sandbox AWS account, for tests only (never deployed) ---
FROM production AS sandbox
USER root
COPY sandbox/ sandbox/
COPY devstack/ devstack/
RUN python -c "import subprocess, sys, tomllib; \
extra = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['sandbox']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', *extra])" \
    && pip install --quiet --no-deps --no-build-isolation -e .
USER spendsense
CMD ["spendsense", "sandbox"]

# The default target: production.
FROM production
