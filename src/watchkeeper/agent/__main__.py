"""The agent's own process: ``watchkeeper agent`` replaces itself with this one (same pid).

A supervisor runs for months, so it should not carry the command line's libraries (Typer,
Click, Rich, Pydantic, Pygments: about 10 MiB) once its options are read. httpx imports its
own command line (Click, Rich, Pygments) when it can; the agent does not need it.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[assignment]

from watchkeeper.agent.main import run_exec_args  # noqa: E402

sys.exit(run_exec_args())
