"""Enqueueing: the one-LPUSH publisher sends what `send_task` sends, and a worker runs it."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from celery import Celery

from service.queue import PROCESS_DELIVERY, RedisPublisher, celery_settings


@pytest.fixture()
def private_queue(app, broker_url):
    """A Celery app like the service's whose tasks go to a queue no worker reads."""
    if not broker_url.startswith("redis"):
        pytest.skip("the one-LPUSH publisher is for Redis brokers")
    import redis

    celery = Celery("roomwise-test")
    celery.conf.update(celery_settings(app.extensions["roomwise.settings"]))
    name = f"roomwise-test-{uuid.uuid4().hex}"
    celery.conf.task_default_queue = name
    with redis.Redis.from_url(broker_url) as client:
        yield celery, client, name
        client.delete(name)
    celery.close()


def published(client, queue: str) -> dict:
    [raw] = client.lrange(queue, 0, -1)
    client.delete(queue)
    return json.loads(raw)


def test_redis_publisher_sends_the_message_send_task_sends(private_queue, broker_url):
    celery, client, queue = private_queue

    celery.send_task(PROCESS_DELIVERY, args=[42])
    expected = published(client, queue)
    RedisPublisher(celery, broker_url)(PROCESS_DELIVERY, [[42]])
    actual = published(client, queue)

    assert actual.keys() == expected.keys()
    assert base64.b64decode(actual["body"]) == base64.b64decode(expected["body"])
    for field in ("content-encoding", "content-type"):
        assert actual[field] == expected[field]
    per_message = {"id", "root_id", "origin", "ignore_result"}
    assert actual["headers"].keys() == expected["headers"].keys()
    assert {k: v for k, v in actual["headers"].items() if k not in per_message} == {
        k: v for k, v in expected["headers"].items() if k not in per_message
    }
    assert actual["headers"]["task"] == PROCESS_DELIVERY
    assert actual["headers"]["root_id"] == actual["headers"]["id"]
    assert actual["properties"].keys() == expected["properties"].keys()
    for field in ("delivery_mode", "delivery_info", "priority", "body_encoding"):
        assert actual["properties"][field] == expected["properties"][field]
    assert actual["properties"]["correlation_id"] == actual["headers"]["id"]
    assert actual["properties"]["delivery_tag"] != expected["properties"]["delivery_tag"]


def broker_clients(client) -> dict[str, dict]:
    """The broker's client connections to the test database, by id."""
    database = str(client.connection_pool.connection_kwargs.get("db", 0))
    return {entry["id"]: entry for entry in client.client_list() if entry["db"] == database}


def test_connections_are_kept_for_the_next_message(private_queue, broker_url):
    import threading

    celery, client, queue = private_queue
    publisher = RedisPublisher(celery, broker_url)
    before = broker_clients(client).keys()
    started = threading.Barrier(3)

    def publish_together(n: int) -> None:
        started.wait()
        publisher(PROCESS_DELIVERY, [[n]])

    threads = [threading.Thread(target=publish_together, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    opened = broker_clients(client).keys() - before
    publisher(PROCESS_DELIVERY, [[3]])
    publisher(PROCESS_DELIVERY, [[4]])

    messages = [json.loads(raw) for raw in client.lrange(queue, 0, -1)]
    bodies = [json.loads(base64.b64decode(message["body"])) for message in messages]
    assert sorted(body[0][0] for body in bodies) == [0, 1, 2, 3, 4]
    # At most one connection per thread publishing at once, and none opened afterwards.
    assert 1 <= len(opened) <= 3
    assert broker_clients(client).keys() - before == opened


def test_a_connection_the_broker_dropped_is_replaced(private_queue, broker_url):
    celery, client, queue = private_queue
    publisher = RedisPublisher(celery, broker_url)
    before = broker_clients(client).keys()
    publisher(PROCESS_DELIVERY, [[1]])
    [kept] = broker_clients(client).keys() - before
    client.client_kill_filter(_id=kept)

    publisher(PROCESS_DELIVERY, [[2]])

    assert client.llen(queue) == 2
    assert len(broker_clients(client).keys() - before - {kept}) == 1


def test_several_tasks_go_in_one_push_and_are_taken_in_order(private_queue, broker_url):
    celery, client, queue = private_queue
    publisher = RedisPublisher(celery, broker_url)

    publisher(PROCESS_DELIVERY, [[1], [2], [3]])

    # The worker takes messages from the list's right end (BRPOP).
    taken = [json.loads(client.rpop(queue)) for _ in range(3)]
    assert [json.loads(base64.b64decode(message["body"]))[0] for message in taken] == [
        [1],
        [2],
        [3],
    ]
    ids = {message["headers"]["id"] for message in taken}
    tags = {message["properties"]["delivery_tag"] for message in taken}
    assert len(ids) == len(tags) == 3
