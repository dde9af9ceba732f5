# Starling's image, in two stages: uv (pinned) builds the locked virtual environment without dev
# dependencies; the runtime stage gets only that environment, the source and the Teams assets, and runs
# as a non-root user. Build: docker build -t starling .   Run: see the README ("Run it in Docker").

FROM python:3.11-slim-bookworm AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never UV_PYTHON=/usr/local/bin/python3.11 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# Dependencies first (a cached layer while only the source changes), then the project itself.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN uv sync --locked --no-dev

FROM python:3.11-slim-bookworm AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/app/.venv/bin:$PATH \
    STARLING_DATABASE_URL=sqlite:////data/starling.db STARLING_DATA_DIR=/data PORT=3000
RUN useradd --create-home --uid 10001 starling && mkdir -p /data && chown starling /data
WORKDIR /app
COPY --from=build /app/.venv ./.venv
COPY --from=build /app/bot ./bot
COPY --from=build /app/handlers ./handlers
COPY --from=build /app/storage ./storage
COPY teams ./teams
COPY slack ./slack
USER starling
VOLUME /data
EXPOSE 3000
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz')"
CMD ["starling", "serve"]
