"""Following files across rotations: rename, copy-truncate, delete and recreate, inode reuse,
a partial last line; and a back-fill killed with SIGKILL resumes to the same KPIs."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from watchkeeper.inputs.tail import Follower


def lines_of(follower: Follower) -> list[bytes]:
    follower.scan()
    out: list[bytes] = []
    while True:
        reads = follower.read()
        got = [line for r in reads for line in r.lines]
        if not got:
            return out
        out.extend(got)


def write(path: Path, *lines: str, mode: str = "a") -> None:
    with path.open(mode) as fh:
        fh.writelines(f"{line}\n" for line in lines)


def test_partial_last_line_waits(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    write(log, "one")
    with log.open("a") as fh:
        fh.write("tw")
    f = Follower([str(tmp_path / "*.log")])
    assert lines_of(f) == [b"one"]
    with log.open("a") as fh:
        fh.write("o\n")
    assert lines_of(f) == [b"two"]


def test_rename_rotation_keeps_reading_the_renamed_file(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, "a1", "a2")
    f = Follower([str(tmp_path / "access*")])
    assert lines_of(f) == [b"a1", b"a2"]
    fh = log.open("a")  # the writer still holds the old file
    rolled = tmp_path / "access-1.json"
    log.rename(rolled)
    fh.write("a3\n")
    fh.close()
    write(log, "b1")
    assert sorted(lines_of(f)) == [b"a3", b"b1"]
    # Caddy gzips the rolled file and deletes it: nothing is read twice or lost.
    with gzip.open(tmp_path / "access-1.json.gz", "wb") as gz:
        gz.write(rolled.read_bytes())
    rolled.unlink()
    write(log, "b2")
    assert lines_of(f) == [b"b2"]


def test_deleted_file_is_read_to_its_end(tmp_path: Path) -> None:
    log = tmp_path / "access.json"
    write(log, "a1")
    f = Follower([str(log)])
    assert lines_of(f) == [b"a1"]
    fh = log.open("a")
    log.unlink()
    fh.write("a2\n")
    fh.close()
    write(log, "c1")
    assert sorted(lines_of(f)) == [b"a2", b"c1"]


def test_copy_truncate(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    write(log, "a1", "a2")
    f = Follower([str(tmp_path / "app.log*")])
    assert lines_of(f) == [b"a1", b"a2"]
    write(log, "a3")
    shutil.copy(log, tmp_path / "app.log.1")
    with log.open("w"):
        pass
    write(log, "n1")
    # a3 is read from the copy, which has the same first line; n1 from the new content.
    assert sorted(lines_of(f)) == [b"a3", b"n1"]


def test_inode_reuse_with_a_different_first_line(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    write(log, "old1", "old2")
    f = Follower([str(log)])
    assert lines_of(f) == [b"old1", b"old2"]
    f.scan()
    # Rewritten in place (same inode), longer than what was read: a new file all the same.
    write(log, "new-first-line", "new2", "new3", mode="w")
    assert lines_of(f) == [b"new-first-line", b"new2", b"new3"]


def test_resume_from_committed_offsets(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    write(log, "l1", "l2")
    f = Follower([str(log)])
    assert lines_of(f) == [b"l1", b"l2"]
    known = dict(f.known)
    f.close()
    write(log, "l3")
    assert lines_of(Follower([str(log)], known)) == [b"l3"]
    assert lines_of(Follower([str(log)], from_end=True)) == []


def caddy_file(path: Path, count: int, start: int = 1_704_060_000) -> None:
    """Lines over three days around a year end, several packages."""
    hosts = [("kiwix.test", "/content/wiki/"), ("kiwix.test", "/content/wiki/A/x"),
             ("nomad.test", "/"), ("nomad.test", "/p.html")]  # fmt: skip
    with path.open("w") as fh:
        for i in range(count):
            host, uri = hosts[i % 4]
            fh.write(json.dumps({
                "level": "info", "ts": start + i * 1.3, "msg": "handled request",
                "request": {"host": host, "uri": uri, "method": "GET"}, "status": 200,
                "resp_headers": {"Content-Type": ["text/html"]}}) + "\n")  # fmt: skip


PACKAGES = """packages:
- {kind: zim, title: Wiki, url: "//kiwix.test/viewer#wiki"}
- {kind: files, title: Nomad, url: "//nomad.test/"}
"""


def kpi_rows(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT * FROM kpi_values ORDER BY 1, 2, 3").fetchall()


def tail(log: Path, db: Path, packages: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "watchkeeper", "tail", str(log), "--db", f"sqlite:///{db}",
         "--packages", str(packages)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def test_sigkill_mid_file_then_resume_equals_a_clean_run(tmp_path: Path) -> None:
    log, packages = tmp_path / "access.json", tmp_path / "packages.yml"
    packages.write_text(PACKAGES)
    caddy_file(log, 200_000)
    clean = tmp_path / "clean.db"
    assert tail(log, clean, packages).wait(timeout=300) == 0
    crashed = tmp_path / "crashed.db"
    proc = tail(log, crashed, packages)
    deadline = time.monotonic() + 120
    # Kill it once some batches are committed and before the file is done.
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if crashed.exists():
            try:
                with sqlite3.connect(crashed) as conn:
                    done = conn.execute("SELECT sum(lines) FROM input_files").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if done:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(crashed) as conn:
        partial = conn.execute("SELECT sum(lines) FROM input_files").fetchone()[0]
    assert 0 < partial < 200_000
    assert tail(log, crashed, packages).wait(timeout=300) == 0
    with sqlite3.connect(crashed) as conn:
        assert conn.execute("SELECT sum(lines) FROM input_files").fetchone()[0] == 200_000
    assert kpi_rows(crashed) == kpi_rows(clean)
    assert kpi_rows(clean)


def test_compressed_files_are_not_read(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "access-1.json.gz", "wb") as gz:
        gz.write(b"".join(os.urandom(40).hex().encode() + b"\n" for _ in range(200)))
    write(tmp_path / "access.json", "a1")
    assert lines_of(Follower([str(tmp_path / "access*")])) == [b"a1"]
