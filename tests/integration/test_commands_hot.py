"""The command round trip's hot routes (submit, wait, the agent's take and result) refuse bad
input as their FastAPI declarations do, with the field's path, and queue nothing.

The routes are answered ahead of FastAPI (``watchkeeper.api.hotpath``); the FastAPI routes stay
for the OpenAPI document. Here both answer the same requests and must agree byte for byte,
except where the hot route is stricter on purpose: it checks the role and the bound agent
before it reads the body, and names a bad path parameter once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import make_client
from tests.integration.test_commands_api import ADMIN, AGENT, READ, TOKENS

HUGE = str(1 << 63)
JSON = {"content-type": "application/json"}


def own_token(db: str) -> dict[str, str]:
    """The bearer header of a new token bound to agent 1.7."""
    made = subprocess.run(
        [sys.executable, "-m", "watchkeeper", "token", "create", "--agent", "1.7", "--db", db],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return {"Authorization": f"Bearer {made.stdout.split()[-1]}"}


@pytest.fixture
def own(sqlite_url: str) -> dict[str, str]:
    return own_token(sqlite_url)


@pytest.fixture
def api(sqlite_url: str, own: dict[str, str]) -> Iterator[TestClient]:
    with make_client(sqlite_url, tokens=TOKENS, command_ttl=30) as client:
        yield client


def send(api: TestClient, method: str, path: str, headers: dict, body: bytes | None = None):
    headers = {**headers, **(JSON if body is not None else {})}
    return api.request(method, path, headers=headers, content=body)


def refusal(answer) -> tuple[int, list[str]]:
    return answer.status_code, [d["path"] for d in answer.json()["error"]["details"]]


def nothing_queued(api: TestClient) -> None:
    assert api.get("/api/v1/commands", headers=ADMIN).json() == {"commands": []}
    for nid in (7, 8):
        assert api.get(f"/api/v1/agents/1/{nid}/cmd?wait=0", headers=AGENT).status_code == 204


BAD_SUBMITS = [
    (b'{"gid":-1,"nid":7,"cmd":"ping"}', ["body.gid"]),
    (b'{"gid":1,"nid":' + HUGE.encode() + b',"cmd":"ping"}', ["body.nid"]),
    (b'{"gid":1}', ["body.nid", "body.cmd"]),
    (b'{"gid":1,"nid":7,"cmd":"ping","x":1}', ["body.x"]),
    (b'{"gid":1,"nid":7,"cmd":"Not A Command"}', ["body.cmd"]),
    (b'{"gid":1,"nid":7,"cmd":"ping","id":"no spaces"}', ["body.id"]),
    (b'{"gid":1,"nid":7,"cmd":"ping","data":7}', ["body.data"]),
    (b'{"gid":1,', ["body[9]"]),
    (b"[1]", ["body"]),
    (b"null", ["body"]),
    (b"", ["body"]),
]


@pytest.mark.parametrize(("body", "paths"), BAD_SUBMITS)
def test_a_bad_submit_names_its_field_and_queues_nothing(api, body, paths) -> None:
    assert refusal(send(api, "POST", "/api/v1/commands", ADMIN, body)) == (422, paths)
    nothing_queued(api)


def test_a_submit_with_no_type_or_from_another_role_queues_nothing(api, own) -> None:
    good = b'{"gid":1,"nid":7,"cmd":"ping"}'
    assert refusal(api.post("/api/v1/commands", headers=ADMIN, content=good)) == (422, ["body"])
    for headers in (READ, AGENT, own):
        assert send(api, "POST", "/api/v1/commands", headers, good).status_code == 403
    assert send(api, "POST", "/api/v1/commands", {}, good).status_code == 401
    # The role is checked before the body is read: a broken body from a reader is a 403.
    assert send(api, "POST", "/api/v1/commands", READ, b'{"gid":').status_code == 403
    nothing_queued(api)


@pytest.mark.parametrize(
    ("path", "paths"),
    [
        ("/api/v1/commands/c1?wait=-1", ["query.wait"]),
        ("/api/v1/commands/c1?wait=301", ["query.wait"]),
        ("/api/v1/commands/c1?wait=inf", ["query.wait"]),
        ("/api/v1/commands/c1?wait=nan", ["query.wait"]),
        ("/api/v1/commands/c1?wait=soon", ["query.wait"]),
        ("/api/v1/commands/c1?wait=", ["query.wait"]),
        ("/api/v1/commands/-c1?wait=0", ["path.cid"]),
        ("/api/v1/commands/a%20b", ["path.cid"]),
        ("/api/v1/commands/" + "a" * 201, ["path.cid"]),
        ("/api/v1/commands/-c1?wait=x", ["path.cid", "query.wait"]),
        ("/api/v1/agents/1/-7/cmd?wait=0", ["path.nid"]),
        (f"/api/v1/agents/1/{HUGE}/cmd?wait=0", ["path.nid"]),
        ("/api/v1/agents/one/7/cmd", ["path.gid"]),
        ("/api/v1/agents/1/7/cmd?wait=301", ["query.wait"]),
        ("/api/v1/agents/1/7/cmd?wait=nan", ["query.wait"]),
        ("/api/v1/agents/-1/-7/cmd?wait=x", ["path.gid", "path.nid", "query.wait"]),
    ],
)
def test_a_bad_wait_or_path_names_its_parameter_and_takes_nothing(api, path, paths) -> None:
    answer = send(api, "POST", "/api/v1/commands", ADMIN, b'{"gid":1,"nid":7,"cmd":"ping"}')
    headers = ADMIN if path.startswith("/api/v1/commands") else AGENT
    assert refusal(api.get(path, headers=headers)) == (422, paths)
    # The command is still waiting for its agent: a refused poll took nothing.
    taken = api.get("/api/v1/agents/1/7/cmd?wait=0", headers=AGENT).json()
    assert taken["id"] == answer.json()["id"]


BAD_RESULTS = [
    (b'{"id":"ID","state":"WHAT"}', ["body.state"]),
    (b'{"state":"SUCCESS","level":100}', ["body.id", "body.level"]),
    (b'{"id":"ID","state":"SUCCESS","time":1e30}', ["body.time"]),
    (b'{"id":"ID","state":"SUCCESS","starttime":' + HUGE.encode() + b"}", ["body.starttime"]),
    (b'{"id":', ["body[6]"]),
    (b"", ["body"]),
]


@pytest.mark.parametrize(("body", "paths"), BAD_RESULTS)
def test_a_bad_result_names_its_field_and_stores_nothing(api, body, paths) -> None:
    sent = send(api, "POST", "/api/v1/commands", ADMIN, b'{"gid":1,"nid":7,"cmd":"ping"}')
    cid = sent.json()["id"]
    assert api.get("/api/v1/agents/1/7/cmd?wait=0", headers=AGENT).json()["id"] == cid
    body = body.replace(b'"ID"', f'"{cid}"'.encode())
    assert refusal(send(api, "POST", "/api/v1/agents/1/7/result", AGENT, body)) == (422, paths)
    path = f"/api/v1/agents/1/{HUGE}/result"
    good = f'{{"id":"{cid}","state":"SUCCESS"}}'.encode()
    assert refusal(send(api, "POST", path, AGENT, good)) == (422, ["path.nid"])
    assert api.get(f"/api/v1/commands/{cid}", headers=ADMIN).json()["state"] == "RUNNING"


def test_another_agents_token_is_refused_before_anything_is_read(api, own) -> None:
    sent = send(api, "POST", "/api/v1/commands", ADMIN, b'{"gid":1,"nid":8,"cmd":"ping"}')
    cid = sent.json()["id"]
    result = f'{{"id":"{cid}","state":"SUCCESS"}}'.encode()
    for path, body in [
        ("/api/v1/agents/1/8/cmd?wait=0", None),
        ("/api/v1/agents/1/8/cmd?wait=nan", None),
        ("/api/v1/agents/1/8/result", result),
        ("/api/v1/agents/1/8/result", b'{"id":'),
    ]:
        answer = send(api, "GET" if body is None else "POST", path, own, body)
        assert answer.status_code == 403, (path, answer.text)
        assert "belongs to agent 1.7, not 1.8" in answer.json()["error"]["message"]
    assert send(api, "POST", "/api/v1/agents/1/8/result", READ, result).status_code == 403
    assert send(api, "POST", "/api/v1/agents/1/8/result", {}, result).status_code == 401
    assert api.get(f"/api/v1/commands/{cid}", headers=ADMIN).json()["state"] == "QUEUED"


def parity_cases(cid: str, own: dict[str, str]) -> Iterator[tuple[str, str, dict, bytes | None]]:
    for body, _ in BAD_SUBMITS:
        yield "POST", "/api/v1/commands", ADMIN, body
    yield (
        "POST",
        "/api/v1/commands",
        ADMIN,
        b'{"gid":1,"nid":7,"cmd":"ping","id":"%s"}' % cid.encode(),
    )
    yield "POST", "/api/v1/commands", ADMIN, b'{"gid":1,"nid":7,"cmd":"ping","id":"dup"}'
    yield "POST", "/api/v1/commands", READ, b'{"gid":1,"nid":7,"cmd":"ping"}'
    yield "POST", "/api/v1/commands", {}, b'{"gid":1,"nid":7,"cmd":"ping"}'
    yield "POST", "/api/v1/commands", ADMIN, b"\xff\xfe"
    for query in ("", "?wait=0", "?wait=-1", "?wait=inf", "?wait=x", "?wait=1&wait=x"):
        yield "GET", f"/api/v1/commands/{cid}{query}", ADMIN, None
    for path in ("nope?wait=0.01", "-bad", "a%20b", "-bad?wait=x"):
        yield "GET", f"/api/v1/commands/{path}", ADMIN, None
    yield "GET", f"/api/v1/commands/{cid}", READ, None
    yield "HEAD", f"/api/v1/commands/{cid}", ADMIN, None
    for path in ("7/cmd?wait=0", "-7/cmd", "7/cmd?wait=nan", "7/cmd?wait=1e9"):
        yield "GET", f"/api/v1/agents/1/{path}", AGENT, None
    yield "GET", "/api/v1/agents/1/7/cmd?wait=0", own, None
    yield "GET", "/api/v1/agents/1/8/cmd?wait=0", own, None
    yield "GET", "/api/v1/agents/1/7/cmd?wait=0", READ, None
    yield "HEAD", "/api/v1/agents/1/7/cmd?wait=0", AGENT, None
    for body, _ in BAD_RESULTS:
        yield "POST", "/api/v1/agents/1/7/result", AGENT, body.replace(b"ID", cid.encode())
    yield "POST", "/api/v1/agents/1/7/result", AGENT, b'{"id":"zz","state":"SUCCESS"}'
    yield "POST", "/api/v1/agents/1/8/result", own, b'{"id":"dup","state":"SUCCESS"}'
    yield "POST", "/api/v1/agents/1/-7/result", AGENT, b'{"id":"x"}'
    yield "GET", "/api/v1/agents/1/7/result", AGENT, None
    yield "DELETE", "/api/v1/agents/1/7/cmd", AGENT, None
    yield "POST", f"/api/v1/commands/{cid}", ADMIN, b"{}"
    result = b'{"id":"dup","state":"SUCCESS","level":20,"extra":[1]}'
    yield "POST", "/api/v1/agents/1/7/result", AGENT, result
    yield "POST", "/api/v1/agents/1/7/result", AGENT, result
    yield "GET", "/api/v1/commands/dup?wait=1", ADMIN, None


def answers(client: TestClient, own: dict[str, str]) -> list[tuple]:
    found = []
    for method, path, headers, body in parity_cases("c1", own):
        answer = send(client, method, path, headers, body)
        text = answer.text
        varying = {"date"}
        if answer.headers.get("content-type") == "application/json" and "submitted" in text:
            record = answer.json()  # a command's record: its times differ from run to run
            text = str({k: v for k, v in record.items() if k not in ("submitted", "expires")})
            varying.add("content-length")
        heads = {k: v for k, v in answer.headers.items() if k not in varying}
        found.append((method, path, answer.status_code, text, heads))
    return found


def answers_of(db: str, *, hot: bool) -> list[tuple]:
    own = own_token(db)
    with make_client(db, tokens=TOKENS, command_ttl=30) as client:
        if not hot:
            client.app._hot = {}  # every request through FastAPI's routes, as declared
        return answers(client, own)


def test_the_hot_routes_answer_as_their_fastapi_declarations(tmp_path) -> None:
    hot = answers_of(f"sqlite:///{tmp_path / 'hot.db'}", hot=True)
    declared = answers_of(f"sqlite:///{tmp_path / 'declared.db'}", hot=False)
    assert [one[:3] for one in hot] == [other[:3] for other in declared]
    for one, other in zip(hot, declared, strict=True):
        assert one == other
