# The safety surveillance worker image: `safety worker` (default command), `python -m streams.admin topics`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY safety ./safety
COPY streams ./streams
RUN pip install '.[rocksdb]'

COPY rules ./rules
COPY deploy ./deploy

# Rule files and topics.yaml stay in /app (the package is installed into site-packages, not run from here).
ENV SAFETY_RULES_DIR=/app/rules \
    SAFETY_TOPICS_FILE=/app/deploy/kafka/topics.yaml \
    SAFETY_STORE=rocksdb:// \
    SAFETY_DATA_DIR=/data \
    SAFETY_WEB_HOST=0.0.0.0 \
    SAFETY_WEB_PORT=6066

RUN useradd --system --uid 10001 safety && mkdir -p /data && chown safety /data
USER safety
VOLUME ["/data"]
EXPOSE 6066

CMD ["safety", "worker", "--loglevel", "info"]
