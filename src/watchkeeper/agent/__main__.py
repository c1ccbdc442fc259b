"""The agent's own process: ``watchkeeper agent`` replaces itself with this one (same pid).

A supervisor runs for months, so it should not carry the command line's libraries (Typer,
Click, Rich, Pydantic, Pygments: about 10 MiB) once its options are read, nor httpx (the agent
speaks HTTP with aiohttp).
"""

import sys

from watchkeeper.agent.main import run_exec_args

sys.exit(run_exec_args())
