"""A tiny Celery app for the beat singleton test: beat sends tickapp.tick every 0.3s
through kombu's filesystem transport (no broker server), and every publish is
appended to $TICKS_FILE as "<BEAT_ID> <unix time>"."""

import os
import time

from celery import Celery
from celery.signals import after_task_publish

BEAT_ID = os.environ.get("BEAT_ID", "?")
BROKER_DIR = os.environ["BROKER_DIR"]

app = Celery("tickapp", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": BROKER_DIR,
        "data_folder_out": BROKER_DIR,
        "processed_folder": BROKER_DIR,
    },
    beat_schedule={"tick": {"task": "tickapp.tick", "schedule": 0.3, "args": (BEAT_ID,)}},
    beat_scheduler="celery.beat:Scheduler",  # in memory: no schedule file to share
    beat_max_loop_interval=0.3,
)


@app.task(name="tickapp.tick")
def tick(who):
    return who


@after_task_publish.connect
def record(sender=None, **kwargs):
    if sender != "tickapp.tick":
        return
    with open(os.environ["TICKS_FILE"], "a") as f:
        f.write("%s %.3f\n" % (BEAT_ID, time.time()))
