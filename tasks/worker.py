"""Celery entry point: `celery -A tasks.worker worker` and `celery -A tasks.worker beat`."""

from service import create_app
from tasks.schedule import BEAT_SCHEDULE

celery = create_app().extensions["celery"]
celery.conf.beat_schedule = BEAT_SCHEDULE
