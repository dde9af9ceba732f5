# Starling: dependencies first (cached layer), then the source; runs as a non-root user.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app

COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project

COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage
RUN uv sync --locked --no-dev

RUN useradd --create-home --uid 10001 starling && mkdir -p /data && chown starling /data
USER starling
ENV STARLING_DATABASE_URL=sqlite:////data/starling.db PORT=3000
EXPOSE 3000
HEALTHCHECK CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"3000\")}/healthz')"
CMD ["/app/.venv/bin/starling", "serve"]
