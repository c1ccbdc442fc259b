"""Agent tokens: one per agent, bound to its gid/nid, stored as a SHA-256 digest only.

``watchkeeper token create --agent GID.NID`` makes one; the server accepts it with the
``agent`` role, for that agent's channel only. Revoked tokens stop working within
:data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

import sqlalchemy as sa

from watchkeeper.store.tables import Time, metadata

#: How long the server trusts what it read of the table (a revocation takes this long).
CACHE_SECONDS = 5.0
PREFIX = "wka_"

agent_tokens = sa.Table(
    "agent_tokens",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("gid", sa.BigInteger, nullable=False),
    sa.Column("nid", sa.BigInteger, nullable=False),
    sa.Column("created", Time, nullable=False),
    sa.Column("revoked", Time, nullable=True),
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(engine: sa.Engine, gid: int, nid: int) -> str:
    """A new token for agent ``gid.nid`` (only its digest is stored)."""
    token = PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            agent_tokens.insert().values(
                digest=digest(token), gid=gid, nid=nid, created=time.time(), revoked=None
            )
        )
    return token


def listing(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(agent_tokens).order_by(agent_tokens.c.created))
        return [
            {"id": r.digest[:12], "agent": f"{r.gid}.{r.nid}", "created": r.created,
             "revoked": r.revoked}
            for r in rows
        ]  # fmt: skip


def revoke(engine: sa.Engine, token_id: str) -> int:
    """Revoke the tokens whose id (a digest prefix, 8 characters at least) is ``token_id``."""
    if len(token_id) < 8:
        return 0
    with engine.begin() as conn:
        done = conn.execute(
            agent_tokens.update()
            .where(agent_tokens.c.digest.startswith(token_id), agent_tokens.c.revoked.is_(None))
            .values(revoked=time.time())
        )
        return int(done.rowcount)


class AgentTokens:
    """The server's view of the table, read again every :data:`CACHE_SECONDS`."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self._bound: dict[str, tuple[int, int]] = {}
        self._read_at = -CACHE_SECONDS

    def lookup(self, token: str) -> tuple[int, int] | None:
        """The agent ``token`` is bound to, if it is a live agent token."""
        if not token.startswith(PREFIX):
            return None
        now = time.monotonic()
        if now - self._read_at >= CACHE_SECONDS:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    sa.select(agent_tokens.c.digest, agent_tokens.c.gid, agent_tokens.c.nid).where(
                        agent_tokens.c.revoked.is_(None)
                    )
                )
                self._bound = {r.digest: (int(r.gid), int(r.nid)) for r in rows}
            self._read_at = now
        return self._bound.get(digest(token))
