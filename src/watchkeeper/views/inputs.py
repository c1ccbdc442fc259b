"""The inputs view: where each followed file was read up to, and what its lines gave.

It folds ``input.read`` events. The tailer puts one in every batch it writes, next to what
the lines produced (``kpi.delta`` or the lines' own events), so a file's offset is committed
in the same transaction as its lines' effects: after a crash, reading resumes exactly where
the last commit left it, and no line is lost or counted twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from watchkeeper.events import Event
from watchkeeper.store.tables import metadata

KIND = "input.read"
#: Parse-error samples kept per input (the most recent).
SAMPLES = 20

files = sa.Table(
    "input_files",
    metadata,
    sa.Column("input_id", sa.String(100), primary_key=True),
    #: A hash of the file's first line: a file is known by its content, not its inode.
    sa.Column("fingerprint", sa.String(40), primary_key=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("lines", sa.BigInteger, nullable=False),
    sa.Column("counted", sa.BigInteger, nullable=False),
    sa.Column("errors", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
)
errors = sa.Table(
    "input_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("input_id", sa.String(100), nullable=False, index=True),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("line", sa.Text, nullable=False),
    sa.Column("ts", sa.Double, nullable=False),
)


class InputsView:
    name = "inputs"
    kinds = frozenset({KIND})
    tables = (files, errors)

    def apply(self, conn: sa.Connection, events: Sequence[Event]) -> None:
        f = files.c
        for event in events:
            source = str(event.attrs["input"])
            for item in event.attrs.get("files", ()):
                key = (f.input_id == source, f.fingerprint == item["fp"])
                row = conn.execute(sa.select(f.lines, f.counted, f.errors).where(*key)).first()
                counts = [int(item.get(name, 0)) for name in ("lines", "counted", "errors")]
                state = {
                    "path": item["path"],
                    "offset": int(item["offset"]),
                    "updated_at": event.ts,
                }
                if row is None:
                    conn.execute(
                        files.insert().values(
                            input_id=source,
                            fingerprint=item["fp"],
                            lines=counts[0],
                            counted=counts[1],
                            errors=counts[2],
                            **state,
                        )
                    )
                else:
                    conn.execute(
                        files.update()
                        .where(*key)
                        .values(
                            lines=row[0] + counts[0],
                            counted=row[1] + counts[1],
                            errors=row[2] + counts[2],
                            **state,
                        )
                    )
            samples = event.attrs.get("samples") or []
            if samples:
                conn.execute(
                    errors.insert(),
                    [
                        {
                            "input_id": source,
                            "path": s["path"],
                            "offset": int(s["offset"]),
                            "reason": s["reason"],
                            "line": s["line"],
                            "ts": event.ts,
                        }
                        for s in samples
                    ],
                )
                self._trim(conn, source)

    def _trim(self, conn: sa.Connection, source: str) -> None:
        e = errors.c
        ids = list(
            conn.execute(
                sa.select(e.id).where(e.input_id == source).order_by(e.id.desc()).offset(SAMPLES)
            ).scalars()
        )
        if ids:
            conn.execute(errors.delete().where(e.id <= ids[0], e.input_id == source))


VIEW = InputsView()


def offsets(conn: sa.Connection, source: str) -> dict[str, tuple[str, int]]:
    """fingerprint → (path, offset) of the files of an input, as last committed."""
    f = files.c
    rows = conn.execute(sa.select(f.fingerprint, f.path, f.offset).where(f.input_id == source))
    return {fp: (path, offset) for fp, path, offset in rows}


def commits(conn: sa.Connection, source: str) -> dict[str, tuple[int, float]]:
    """fingerprint → (offset, when committed) of the files of an input."""
    f = files.c
    rows = conn.execute(
        sa.select(f.fingerprint, f.offset, f.updated_at).where(f.input_id == source)
    )
    return {fp: (int(offset), float(at)) for fp, offset, at in rows}


def report(conn: sa.Connection) -> dict[str, dict[str, Any]]:
    """Per input: its files as committed, and its latest parse-error samples."""
    f, e = files.c, errors.c
    out: dict[str, dict[str, Any]] = {}
    for row in conn.execute(sa.select(files).order_by(f.input_id, f.updated_at.desc())):
        entry = out.setdefault(row.input_id, {"files": [], "errorSamples": []})
        entry["files"].append(
            {
                "fingerprint": row.fingerprint,
                "path": row.path,
                "offset": row.offset,
                "lines": row.lines,
                "counted": row.counted,
                "parseErrors": row.errors,
                "updatedAt": row.updated_at,
            }
        )
    for row in conn.execute(sa.select(errors).order_by(e.input_id, e.id.desc())):
        entry = out.setdefault(row.input_id, {"files": [], "errorSamples": []})
        entry["errorSamples"].append(
            {"path": row.path, "offset": row.offset, "reason": row.reason, "line": row.line}
        )
    return out
