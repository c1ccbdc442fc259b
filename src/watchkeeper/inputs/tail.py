"""Following files across rotations, by content rather than by name or inode.

A file is known by a fingerprint of its first line (at most ``FINGERPRINT_BYTES``): a file
renamed by rotation keeps it, so reading goes on where it was; a new file at the same path,
whether created after a delete, after a copy-truncate or on a reused inode, has another first
line and is read from its start. A file whose first line is not complete yet is not read
until it is. An open file is read to its end even once its name is gone (Caddy renames a full
log and gzips it at once: the handle still reads the renamed, then deleted, file). Only
complete lines are handed out: a partial last line waits for its newline.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import BinaryIO

FINGERPRINT_BYTES = 256
#: A line longer than this is skipped (counted as a parse error) rather than buffered.
MAX_LINE = 1024 * 1024
#: Rolled files compressed by the logger: their lines were read from the file before it.
COMPRESSED = (".gz", ".zst", ".bz2", ".xz")
#: Scans a vanished file is kept open after its last read returned nothing.
GONE_SCANS = 2


def fingerprint(fh: BinaryIO) -> str | None:
    """The hash of the first line (or first bytes); ``None`` while that line is incomplete."""
    fh.seek(0)
    head = fh.read(FINGERPRINT_BYTES)
    newline = head.find(b"\n")
    if newline >= 0:
        head = head[: newline + 1]
    elif len(head) < FINGERPRINT_BYTES:
        return None
    return hashlib.sha1(head, usedforsecurity=False).hexdigest()


@dataclass(slots=True)
class Tracked:
    fp: str
    path: str
    fh: BinaryIO
    ino: tuple[int, int]
    offset: int
    size: int = 0
    idle_scans: int = 0
    seen: bool = True
    #: Where reading this file started, and when: its lag before anything of it is committed.
    start: int = 0
    since: float = 0.0


@dataclass(slots=True)
class Read:
    """Complete lines read from one file: ``start`` is the offset of the first, ``end`` the
    offset after the last newline (where reading resumes)."""

    fp: str
    path: str
    start: int
    end: int
    lines: list[bytes] = field(default_factory=list)
    too_long: int = 0


class Follower:
    """Follows the files matching ``patterns``. ``known`` maps fingerprints to the offsets
    committed before; with ``from_end``, files met for the first time at the first scan are
    read from their end (later files always from their start)."""

    def __init__(
        self,
        patterns: Iterable[str],
        known: dict[str, tuple[str, int]] | None = None,
        *,
        from_end: bool = False,
        chunk: int = 256 * 1024,
    ) -> None:
        self.patterns = tuple(patterns)
        self.known = dict(known or {})
        self.from_end = from_end
        self.chunk = chunk
        self.tracked: dict[str, Tracked] = {}
        self._scanned = False

    def paths(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.patterns:
            found.update(
                p for p in glob.glob(pattern) if not p.endswith(COMPRESSED) and os.path.isfile(p)
            )
        return sorted(found)

    def scan(self) -> None:
        """Look at the paths again: new files, renamed files, replaced files."""
        for t in self.tracked.values():
            t.seen = False
        for path in self.paths():
            try:
                fh: BinaryIO = open(path, "rb")  # noqa: SIM115 - kept open across scans
            except OSError:
                continue
            keep = self._place(path, fh)
            if not keep:
                fh.close()
        self._scanned = True
        for fp in [
            fp for fp, t in self.tracked.items() if not t.seen and t.idle_scans >= GONE_SCANS
        ]:
            self.tracked.pop(fp).fh.close()

    def _place(self, path: str, fh: BinaryIO) -> bool:
        st = os.fstat(fh.fileno())
        fp = fingerprint(fh)
        if fp is None:
            return False
        ino = (st.st_dev, st.st_ino)
        current = self.tracked.get(fp)
        if current is not None:
            current.seen = True
            if current.ino == ino:
                current.path = path  # renamed
                return False
            if os.fstat(current.fh.fileno()).st_size < current.offset:
                # The file we held was truncated; this one holds its content (a copy).
                current.fh.close()
                current.fh, current.ino, current.path = fh, ino, path
                return True
            return False
        if fp in self.known:
            offset = self.known[fp][1]
            if st.st_size < offset:
                offset = 0  # truncated, then rewritten with the same first line
        elif self.from_end and not self._scanned:
            offset = _last_line_end(fh, st.st_size)
        else:
            offset = 0
        for old in [t for t in self.tracked.values() if t.ino == ino]:
            # The same file now starts with another line: rewritten in place, its old content
            # is gone and what we held of it must not be read past.
            self.tracked.pop(old.fp).fh.close()
        self.tracked[fp] = Tracked(fp, path, fh, ino, offset, start=offset, since=time.time())
        return True

    def read(self) -> list[Read]:
        """Complete lines of every followed file, up to ``chunk`` bytes of each."""
        out: list[Read] = []
        for t in list(self.tracked.values()):
            t.fh.seek(t.offset)
            data = t.fh.read(self.chunk)
            t.size = os.fstat(t.fh.fileno()).st_size
            cut = data.rfind(b"\n")
            if cut < 0 and len(data) == self.chunk:
                # A line longer than a chunk: read on, up to the longest line we keep.
                data += t.fh.read(max(0, MAX_LINE - len(data)))
                cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) >= MAX_LINE:
                    # One line longer than we buffer: skip up to its newline.
                    out.append(Read(t.fp, t.path, t.offset, t.offset + len(data), too_long=1))
                    t.offset += len(data)
                    continue
                t.idle_scans += 1
                continue
            t.idle_scans = 0
            lines = data[:cut].split(b"\n")
            read = Read(t.fp, t.path, t.offset, t.offset + cut + 1, lines)
            t.offset = read.end
            self.known[t.fp] = (t.path, t.offset)
            out.append(read)
        return out

    def lag(self) -> list[dict[str, object]]:
        return [
            {
                "fingerprint": t.fp,
                "path": t.path,
                "offset": t.offset,
                "size": t.size,
                "lagBytes": max(0, t.size - t.offset),
            }
            for t in self.tracked.values()
        ]

    def close(self) -> None:
        for t in self.tracked.values():
            t.fh.close()
        self.tracked.clear()


def size_now(t: Tracked) -> int:
    """The file's size at this moment when its path still names it, else as last read:
    a reader that is stuck still shows the lag growing."""
    try:
        st = os.stat(t.path)
    except OSError:
        return t.size
    return st.st_size if (st.st_dev, st.st_ino) == t.ino else t.size


def _last_line_end(fh: BinaryIO, size: int) -> int:
    """The offset after the last newline of the file (where its next complete line starts)."""
    pos = size
    while pos > 0:
        step = min(65536, pos)
        fh.seek(pos - step)
        block = fh.read(step)
        newline = block.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return 0
