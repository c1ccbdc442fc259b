"""``watchkeeper db``: migrations, the events moved aside, rebuilding the views."""

from __future__ import annotations

import json

import typer

from watchkeeper.cli.options import ConfigOpt, DbOpt, JsonOpt, console, print_table, progress_bar
from watchkeeper.config import DEFAULT_DB

db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Apply database migrations (also done on every start of the server)."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store.rebuild import heal
    from watchkeeper.views import ALL_VIEWS

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    if heal(engine, ALL_VIEWS) is not None:
        console.print(
            "rebuilt the views once, as the upgrade asked (events moved aside: `db check`)"
        )
    console.print(f"database at revision {store_db.current_revision(engine)}")


@db_app.command("check")
def db_check(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB, as_json: JsonOpt = False) -> None:
    """List the events moved out of the log because their time cannot be shown; exit 1 if
    the log still holds such events (`db rebuild` moves them aside)."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store import quarantine

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    with engine.connect() as conn:
        moved, left = quarantine.listed(conn), quarantine.unshowable_in_log(conn)
    if as_json:
        print(json.dumps({"quarantined": moved, "unshowable_in_log": left}))
    else:
        columns = ["seq", "kind", "event_id", "ts", "received_at", "reason", "quarantined_at"]
        print_table(moved, columns, f"events moved aside ({len(moved)})")
        console.print(f"{left} event(s) in the log whose time cannot be shown")
    if left:
        raise typer.Exit(1)


@db_app.command("rebuild")
def db_rebuild(config: ConfigOpt = None, db: DbOpt = DEFAULT_DB) -> None:
    """Recompute every view from the event log."""
    from watchkeeper.store import db as store_db
    from watchkeeper.store.rebuild import rebuild
    from watchkeeper.views import ALL_VIEWS

    engine = store_db.make_engine(db, writer=True)
    store_db.upgrade(engine)
    with progress_bar() as progress:
        job = progress.add_task("replaying events", total=None)
        done = rebuild(
            engine, ALL_VIEWS, lambda n, total: progress.update(job, completed=n, total=total)
        )
    console.print(f"rebuilt {len(ALL_VIEWS)} views from {done} events")
