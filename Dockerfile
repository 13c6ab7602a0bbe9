# One image for the three Python roles (web, worker, beat); docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY service ./service
COPY tasks ./tasks
COPY integrations ./integrations
COPY gunicorn.conf.py .

RUN useradd --create-home --uid 1000 roomwise && mkdir -p /app/var && chown roomwise /app/var
USER roomwise

EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "service:create_app()"]
