# One image for every SpendSense Python process (collectors, detector worker, model service,
# actions worker, API, projector); docker-compose.yml picks the command per service.

# --- dashboard assets (Tailwind CSS, Chart.js) ---
FROM node:20-bookworm-slim AS ui
WORKDIR /src/ui
COPY ui/package.json ui/package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY ui/ ./
RUN npm run --silent build

# --- Python services ---
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPENDSENSE_METRICS_HOST=0.0.0.0 \
    SPENDSENSE_VAR_DIR=/app/var
RUN useradd --system --create-home --uid 10001 spendsense
WORKDIR /app

# Dependencies first (a layer that changes only with pyproject.toml); a compiler only for
# the install, in case a dependency has no wheel for this platform.
COPY pyproject.toml README.md ./
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', '--quiet', *deps])" \
    && apt-get purge -y build-essential \
    && apt-get autoremove -y \
    && rm -rf /var/lib/apt/lists/*

# The code, installed in place so the tree's paths (ui/, var/) are where settings expect them.
COPY spendsense/ spendsense/
COPY ingest/ ingest/
COPY detector/ detector/
COPY actions/ actions/
COPY api/ api/
COPY projector/ projector/
COPY ui/templates/ ui/templates/
COPY --from=ui /src/ui/dist/ ui/dist/
COPY deploy/docker/ deploy/docker/
RUN pip install --quiet --no-deps -e . \
    && mkdir -p var/detector \
    && chown -R spendsense:spendsense var

USER spendsense
ENTRYPOINT ["/app/deploy/docker/entrypoint.sh"]
CMD ["spendsense", "--help"]
