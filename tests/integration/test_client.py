"""The Python client and its async twin against a real server."""

from __future__ import annotations

import asyncio
import threading

import pytest

from tests.fleet import HISTORY, task
from tests.support import ServerProcess, free_port
from watchkeeper.client import AsyncClient, Client, WatchkeeperError


@pytest.fixture
def server(tmp_path):
    with ServerProcess(f"sqlite:///{tmp_path / 'client.db'}") as srv:
        yield srv


def test_sync_client(server):
    with Client(server.url) as wk:
        acks = wk.send(HISTORY, batch_size=6)
        assert [a["accepted"] for a in acks] == [6, 6, 4]
        assert wk.task(2)["status"] == "aborted"
        assert wk.tasks(status="finished")["total"] == 1
        assert wk.agent(777)["tasks_processed"] == 1
        assert wk.agents()["total"] == 2
        assert wk.incidents(agent="778")["incidents"][0]["task"] == "2"
        assert wk.events(since_seq=15)["events"][0]["seq"] == 16
        assert wk.health()["last_seq"] == len(HISTORY)


def test_refusals_carry_the_details(server):
    with Client(server.url) as wk:
        with pytest.raises(WatchkeeperError) as info:
            wk.send([task(1, "2024-05-01 10:00:00.000", "created"), {"id_task": 2}])
        assert info.value.status == 422
        assert info.value.details[0]["path"] == "[1].status"
        with pytest.raises(WatchkeeperError) as info:
            wk.task("missing")
        assert info.value.status == 404


def test_async_client(server):
    async def main() -> None:
        async with AsyncClient(server.url) as wk:
            acks = await wk.send(HISTORY)
            assert acks == [
                {
                    "accepted": len(HISTORY),
                    "duplicates": 0,
                    "first_seq": 1,
                    "last_seq": len(HISTORY),
                }
            ]
            assert (await wk.task(1))["history"][-1]["status"] == "finished"
            assert (await wk.tasks(agent="777"))["total"] == 2
            assert (await wk.agent(778))["state"] == "recover"
            assert (await wk.incidents())["total"] == 1

    # Its own thread and loop: a browser test's session may hold this thread's loop.
    failure: list[BaseException] = []
    runner = threading.Thread(target=lambda: _capture(failure, lambda: asyncio.run(main())))
    runner.start()
    runner.join(60)
    if failure:
        raise failure[0]


def _capture(into: list[BaseException], fn) -> None:
    try:
        fn()
    except BaseException as exc:  # re-raised in the test's thread
        into.append(exc)


def test_send_retries_until_the_server_is_up(tmp_path):
    port = free_port()
    srv = ServerProcess(f"sqlite:///{tmp_path / 'late.db'}", port=port)
    starter = threading.Timer(1.0, srv.start)
    starter.start()
    try:
        # Retries at most 1 s apart: the send goes through soon after the server is up.
        with Client(srv.url, retries=40, backoff=0.25, max_backoff=1.0) as wk:
            items = [{**e, "event_id": f"r{i}"} for i, e in enumerate(HISTORY)]
            assert wk.send(items)[0]["accepted"] == len(HISTORY)
            assert wk.health()["last_seq"] == len(HISTORY)
    finally:
        starter.join()
        srv.stop()
