# syntax=docker/dockerfile:1
# One image for every role: `serve` (default), `worker`, `migrate`, `healthcheck`.

FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml constraints.txt ./
# Runtime dependencies only, at the pinned versions; the source is not installed as a package.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
 && pip install -c constraints.txt -r requirements.txt
COPY app/locale ./app/locale
RUN pybabel compile -d app/locale -D messages

FROM python:3.11-slim-bookworm AS runtime
# A CJK font with TrueType outlines, embedded in checklist PDFs (app/catalogue/pdf.py).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei \
 && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tongban \
 && mkdir -p /var/lib/tongban/files \
 && chown -R tongban:tongban /var/lib/tongban
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY app ./app
COPY workers ./workers
COPY migrations ./migrations
COPY frontend ./frontend
COPY --from=build /src/app/locale ./app/locale
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TONGBAN_ENV=prod \
    TONGBAN_HOST=0.0.0.0 \
    TONGBAN_PORT=8000 \
    TONGBAN_VAR_DIR=/var/lib/tongban
USER tongban
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-m", "app.cli", "healthcheck"]
ENTRYPOINT ["python", "-m", "app.cli"]
CMD ["serve"]
