"""The writer process's framing: many frames in one read, frames split across reads, EOF."""

from __future__ import annotations

import socket
import threading

from watchkeeper.events import Event
from watchkeeper.store.writerproc import _Frames, frame, from_rows, to_rows


def test_many_frames_in_one_read_and_none_waiting():
    ours, theirs = socket.socketpair()
    with ours, theirs:
        ours.sendall(b"".join(frame({"id": n, "events": []}) for n in range(2000)))
        frames = _Frames(theirs)
        assert frames.next()["id"] == 0
        got = [frames.ready()["id"] for _ in range(1999)]
        assert got == list(range(1, 2000))
        assert frames.ready() is None  # nothing more has arrived: no waiting


def test_a_frame_split_across_reads_is_waited_for():
    ours, theirs = socket.socketpair()
    data = frame({"id": 7, "events": [["x"] * 10_000]})
    with ours, theirs:
        ours.sendall(data[:10])
        later = threading.Timer(0.2, ours.sendall, args=(data[10:],))
        later.start()
        frames = _Frames(theirs)
        assert frames.ready()["id"] == 7  # half a frame here: the rest is on its way
        later.join()


def test_end_of_stream():
    ours, theirs = socket.socketpair()
    with theirs:
        ours.sendall(frame({"id": 1, "events": []}))
        ours.close()
        frames = _Frames(theirs)
        assert frames.next()["id"] == 1
        assert frames.next() is None
        assert frames.ready() is None


def test_events_survive_the_round_trip():
    event = Event(
        "task.status",
        1714557600.123,
        "info",
        None,
        "task:1",
        {"a": [1, None]},
        {"ü": 1.5},
        "e1",
        2.5,
    )
    (back,) = from_rows(to_rows([event]))
    assert back == event
