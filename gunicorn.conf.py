"""Gunicorn settings for the web role (`gunicorn -c gunicorn.conf.py 'service:create_app()'`).

Each setting can be overridden from the environment, so one image serves every deployment.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# One process per core, each with 8 threads. Webhook ingest is short: verify, then one INSERT
# (committed as it returns) and one broker push shared with the requests that arrive at the same
# time (`service/delivery_writer.py`), so a process spends most of a request's time waiting on
# PostgreSQL and Redis, and threads cover those waits at far less cost than more
# processes: measured on 2 cores, 2 workers x 8 threads took about a quarter less CPU per
# delivery than 5 x 4, whose processes contended for the cores (BENCHMARKS.md). More threads
# also cover the longer waits of a networked database. The ingest engine keeps up to 16
# connections per process (`service/db.py`), so raise that with GUNICORN_THREADS beyond it.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
worker_class = "gthread"
# Platforms give up after 5–30 s; answer or fail well inside that.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))
graceful_timeout = 20
keepalive = 5
# One line per request to stdout; set GUNICORN_ACCESS_LOG to a file path, or to "" for none.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
