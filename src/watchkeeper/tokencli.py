"""``watchkeeper token create --agent GID.NID | list | revoke ID``: the agents' own tokens.

The token is printed once, as the last word of the output; the database keeps its digest.
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated

import typer

from watchkeeper.config import DEFAULT_DB

token_app = typer.Typer(help="Agent tokens, each bound to one agent.", no_args_is_help=True)

DbOpt = Annotated[
    str, typer.Option("--db", envvar="WATCHKEEPER_DB", help="Database URL or SQLite file path.")
]


def _engine(db: str):  # type: ignore[no-untyped-def]
    from watchkeeper.store import db as store_db

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    return engine


@token_app.command("create")
def create(
    agent: Annotated[str, typer.Option("--agent", help="The agent: GID.NID")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Create a token for one agent: it opens that agent's command channel only."""
    from watchkeeper.store import agenttokens

    found = re.fullmatch(r"(\d{1,18})\.(\d{1,18})", agent)
    if found is None:
        typer.echo("error: --agent must be GID.NID, e.g. 1.7", err=True)
        raise typer.Exit(2)
    token = agenttokens.create(_engine(db), int(found[1]), int(found[2]))
    typer.echo(f"agent {agent} token (shown once): {token}")


@token_app.command("list")
def list_tokens(db: DbOpt = DEFAULT_DB) -> None:
    """The agent tokens: id, agent, created, revoked (the tokens themselves are not stored)."""
    from watchkeeper.store import agenttokens

    for row in agenttokens.listing(_engine(db)):
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row["created"]))
        typer.echo(json.dumps(row | {"created": created}))


@token_app.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The id `token list` shows")],
    db: DbOpt = DEFAULT_DB,
) -> None:
    """Revoke a token; servers refuse it within 5 seconds."""
    from watchkeeper.store import agenttokens

    count = agenttokens.revoke(_engine(db), token_id)
    typer.echo(f"revoked {count} token(s)")
    if not count:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
