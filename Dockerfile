# The app image for docker-compose.yml: one image serves the web process and the worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/data/media \
    LOCAL_DIR=/data/local

WORKDIR /app
COPY pyproject.toml README.md ./
COPY annotator ./annotator
RUN pip install --no-cache-dir .
COPY . .
# collectstatic needs settings to import; the key used here is thrown away with the layer.
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput \
    && useradd --create-home --uid 1000 app \
    && mkdir -p /data/media /data/local && chown -R app /data
USER app
EXPOSE 8000
CMD ["gunicorn", "annotator.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120"]
