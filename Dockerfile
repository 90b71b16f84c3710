# One image for the API workers and the single scheduler process.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRUYENTHANH_DATA_DIR=/var/lib/truyenthanh \
    TRUYENTHANH_MEDIA_DIR=/var/lib/truyenthanh/media

WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY content ./content
COPY audio ./audio
COPY scheduler ./scheduler
COPY api ./api
COPY migrations ./migrations
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/truyenthanh truyenthanh \
    && mkdir -p /var/lib/truyenthanh/media \
    && chown -R truyenthanh /var/lib/truyenthanh

USER truyenthanh
EXPOSE 8000
ENTRYPOINT ["truyenthanh"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
