"""Gunicorn settings for the web role (`gunicorn -c gunicorn.conf.py 'service:create_app()'`).

Each setting can be overridden from the environment, so one image serves every deployment.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# Webhook ingest is short: verify, one INSERT and commit, one broker push. On 2 cores with a
# local database it is CPU-bound in these processes, and 2-5 workers of 2-4 threads ingest
# alike (BENCHMARKS.md); the threads are for database and broker waits on a network.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# Platforms give up after 5–30 s; answer or fail well inside that.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "20"))
graceful_timeout = 20
keepalive = 5
# One line per request to stdout; set GUNICORN_ACCESS_LOG to a file path, or to "" for none.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
