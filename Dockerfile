# pagedesk: one image for the web server and the worker (compose.yaml runs both).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAGEDESK_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY src ./src
RUN pip install -c constraints.txt . \
    && useradd --system --uid 10001 --home-dir /data --no-create-home pagedesk \
    && mkdir /data \
    && chown pagedesk:pagedesk /data

USER pagedesk
VOLUME ["/data"]
EXPOSE 8000

# The worker uses the same image: `pagedesk worker --processes 2` (see compose.yaml).
CMD ["pagedesk", "web", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
