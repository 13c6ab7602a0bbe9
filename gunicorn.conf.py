"""Gunicorn settings for the web role (`gunicorn -c gunicorn.conf.py 'service:create_app()'`).

Each setting can be overridden from the environment, so one image serves every deployment.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core, each serving its requests on gevent's event loop. Webhook ingest is
# short: verify, then one INSERT (committed as it returns) and one broker push shared with the
# requests that arrive at the same time (`service/delivery_writer.py`), so a process spends
# most of a request's time waiting on PostgreSQL and Redis. On the event loop those waits cost
# a greenlet switch instead of a thread hand-off and a turn at the GIL, every connection is
# served at once (so more deliveries share each batch), and measured on 2 cores both the bare
# Flask endpoint and ingest answered about 60% more requests per second than with 8 threads
# per process (BENCHMARKS.md, "gunicorn settings"). psycopg (3.1.14 and later) and redis-py
# wait cooperatively under gevent's patching; nothing in the web role needs real threads.
# GUNICORN_WORKER_CLASS=gthread (with GUNICORN_THREADS per process) is the threaded fallback.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
# Connections one gevent process serves at once. Requests that need a database connection of
# their own beyond the ingest engine's pool (`service/db.py`) wait their turn for one.
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# Platforms give up after 5–30 s; answer or fail well inside that.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))
graceful_timeout = 20
keepalive = 5
# One line per request to stdout; set GUNICORN_ACCESS_LOG to a file path, or to "" for none.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
