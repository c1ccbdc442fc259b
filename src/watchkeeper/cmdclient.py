"""Commands to agents from Python, with the original client's API.

``Client(url, token).cmd(gid, nid, cmd, args, data)`` sends a command and returns a
:class:`Cmd` whose ``result(timeout)`` waits for its result and ``kill()`` stops it;
``execute``, ``get_cpu_info`` and the other helpers, ``get_msgs`` and ``get_bound_client``
are the original's. The server is reached over HTTP (an admin token), not Redis: the original
client's Redis protocol still works against a server started with ``--redis``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Protocol

import httpx
import orjson

#: Seconds the info helpers wait for their answer, as the original's ``GET_INFO_TIMEOUT``.
GET_INFO_TIMEOUT = 60
#: The longest single wait asked of the server; longer waits ask again.
POLL = 30.0
LEVELS = [*range(1, 10), 20, 21, 22, 23, 30]
PENDING = ("QUEUED", "RUNNING")


class CommandFailed(Exception):
    """A helper's command ended other than SUCCESS; ``result`` is its record."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(f"{result.get('cmd')} {result.get('state')}: {result.get('data')}")
        self.result = result


class _Transport(Protocol):
    _http: httpx.Client

    def answer(self, response: httpx.Response) -> Any: ...


class RunArgs:
    """The run options of ``execute`` (``domain``, ``name``, ``max_time``, ...)."""

    FIELDS = (
        "domain", "name", "max_time", "max_restart", "recurring_period", "stats_interval",
        "args", "loglevels", "loglevels_db", "loglevels_ac",
    )  # fmt: skip

    def __init__(
        self,
        domain: str | None = None,
        name: str | None = None,
        max_time: float = 0,
        max_restart: int = 0,
        recurring_period: float = 0,
        stats_interval: float = 0,
        args: list[str] | None = None,
        loglevels: str | list[int] = "*",
        loglevels_db: str | list[int] | None = None,
        loglevels_ac: str | list[int] | None = None,
    ) -> None:
        self.domain, self.name, self.max_time = domain, name, max_time
        self.max_restart, self.recurring_period = max_restart, recurring_period
        self.stats_interval, self.args, self.loglevels = stats_interval, args, loglevels
        self.loglevels_db, self.loglevels_ac = loglevels_db, loglevels_ac

    def dump(self) -> dict[str, Any]:
        return {k: v for k in self.FIELDS if (v := getattr(self, k)) is not None}

    def update(self, args: dict[str, Any] | RunArgs | None) -> RunArgs:
        """A copy with ``args`` laid over these."""
        merged = self.dump() | (args.dump() if isinstance(args, RunArgs) else dict(args or {}))
        return RunArgs(**{k: v for k, v in merged.items() if k in self.FIELDS})


class Cmd:
    """A command sent: ``id``, ``gid``, ``nid``; its result, its kill, its messages."""

    def __init__(self, client: CommandsMixin, gid: int, nid: int, cid: str) -> None:
        self.client, self.gid, self.nid, self.id = client, gid, nid, cid

    def result(self, timeout: float | None = None) -> dict[str, Any]:
        """Wait for the result (for ever with no ``timeout``); TimeoutError if it did not
        come in time."""
        deadline = None if not timeout else time.monotonic() + timeout
        while True:
            left = POLL if deadline is None else max(0.0, deadline - time.monotonic())
            record = self.client.command(self.id, wait=min(left, POLL))
            if record["state"] not in PENDING:
                return record
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"command {self.id} is still {record['state']}")

    get_result = result

    def kill(self) -> dict[str, Any]:
        return self.client.cancel(self.id)

    def get_stats(self) -> Any:
        return self.client.call(self.gid, self.nid, "get_process_stats", data={"id": self.id})

    def get_msgs(self, levels: str | list[int] = "*", limit: int = 20) -> Any:
        return self.client.get_msgs(self.gid, self.nid, jobid=self.id, levels=levels, limit=limit)

    def dump(self) -> dict[str, Any]:
        return {"id": self.id, "gid": self.gid, "nid": self.nid}


class CommandsMixin:
    """The command methods of :class:`watchkeeper.client.Client`."""

    def cmd(
        self: _Transport,
        gid: int,
        nid: int,
        cmd: str,
        args: dict[str, Any] | RunArgs | None = None,
        data: Any = None,
        id: str | None = None,
    ) -> Cmd:
        body = {
            "id": id or str(uuid.uuid4()),
            "gid": gid,
            "nid": nid,
            "cmd": cmd,
            "args": args.dump() if isinstance(args, RunArgs) else dict(args or {}),
            "data": data if data is None or isinstance(data, str) else orjson.dumps(data).decode(),
        }
        answer = self.answer(self._http.post("/api/v1/commands", json=body))
        return Cmd(self, gid, nid, answer["id"])  # type: ignore[arg-type]

    def execute(
        self,
        gid: int,
        nid: int,
        executable: str,
        cmdargs: list[str] | None = None,
        args: list[str] | dict[str, Any] | RunArgs | None = None,
        data: Any = None,
        id: str | None = None,
        **options: Any,
    ) -> Cmd:
        """``execute(gid, nid, "echo", ["hi"], RunArgs(max_time=5))`` as the original, or
        ``execute(gid, nid, "echo", args=["hi"], max_time=5)``."""
        if isinstance(args, list) and cmdargs is None:
            cmdargs, args = args, None
        run = (args if isinstance(args, RunArgs) else RunArgs().update(args)).update(options)
        body = run.dump() | {"name": executable, "args": list(cmdargs or [])}
        return self.cmd(gid, nid, "execute", body, data, id)

    def get_by_id(self, gid: int, nid: int, id: str) -> Cmd:
        return Cmd(self, gid, nid, id)

    def command(self: _Transport, cid: str, wait: float = 0) -> dict[str, Any]:
        """The record of command ``cid``, waiting up to ``wait`` seconds for its result."""
        response = self._http.get(
            f"/api/v1/commands/{cid}", params={"wait": wait}, timeout=wait + 30
        )
        found: dict[str, Any] = self.answer(response)
        return found

    def commands(self: _Transport, **filters: Any) -> list[dict[str, Any]]:
        params = {k: v for k, v in filters.items() if v is not None}
        found: list[dict[str, Any]] = self.answer(
            self._http.get("/api/v1/commands", params=params)
        )["commands"]
        return found

    def cancel(self: _Transport, cid: str) -> dict[str, Any]:
        found: dict[str, Any] = self.answer(self._http.delete(f"/api/v1/commands/{cid}"))
        return found

    def call(
        self,
        gid: int,
        nid: int,
        cmd: str,
        data: Any = None,
        timeout: float = GET_INFO_TIMEOUT,
    ) -> Any:
        """Run ``cmd`` and answer its result's data (parsed JSON); CommandFailed unless SUCCESS."""
        result = self.cmd(gid, nid, cmd, {}, data).result(timeout)
        if result["state"] != "SUCCESS":
            raise CommandFailed(result)
        text = result.get("data")
        try:
            return orjson.loads(text) if isinstance(text, str) else text
        except orjson.JSONDecodeError:
            return text

    def get_cpu_info(self, gid: int, nid: int) -> Any:
        return self.call(gid, nid, "get_cpu_info")

    def get_disk_info(self, gid: int, nid: int) -> Any:
        return self.call(gid, nid, "get_disk_info")

    def get_mem_info(self, gid: int, nid: int) -> Any:
        return self.call(gid, nid, "get_mem_info")

    def get_nic_info(self, gid: int, nid: int) -> Any:
        return self.call(gid, nid, "get_nic_info")

    def get_os_info(self, gid: int, nid: int) -> Any:
        return self.call(gid, nid, "get_os_info")

    def get_processes(
        self, gid: int, nid: int, domain: str | None = None, name: str | None = None
    ) -> Any:
        return self.call(gid, nid, "get_processes_stats", data={"domain": domain, "name": name})

    def get_msgs(
        self,
        gid: int,
        nid: int,
        jobid: str | None = None,
        timefrom: float | None = None,
        timeto: float | None = None,
        levels: str | list[int] = "*",
        limit: int = 20,
    ) -> Any:
        query = {"jobid": jobid, "timefrom": timefrom, "timeto": timeto, "levels": levels}
        return self.call(gid, nid, "get_msgs", data=query | {"limit": limit})

    def get_bound_client(
        self, gid: int, nid: int, default_args: dict[str, Any] | RunArgs | None = None
    ) -> BoundClient:
        return BoundClient(self, gid, nid, default_args)


class BoundClient:
    """The client's methods for one agent, without ``gid`` and ``nid``."""

    def __init__(
        self,
        client: CommandsMixin,
        gid: int,
        nid: int,
        default_args: dict[str, Any] | RunArgs | None = None,
    ) -> None:
        self.client, self.gid, self.nid = client, gid, nid
        self.default_args = RunArgs().update(default_args)

    def cmd(self, cmd: str, args: Any = None, data: Any = None, id: str | None = None) -> Cmd:
        return self.client.cmd(self.gid, self.nid, cmd, self.default_args.update(args), data, id)

    def execute(self, executable: str, cmdargs: Any = None, args: Any = None, **kw: Any) -> Cmd:
        if isinstance(args, list) and cmdargs is None:
            cmdargs, args = args, None
        run = self.default_args.update(args)
        return self.client.execute(self.gid, self.nid, executable, cmdargs, run, **kw)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if not name.startswith("get_"):
            raise AttributeError(name)
        return lambda *args, **kw: method(self.gid, self.nid, *args, **kw)
