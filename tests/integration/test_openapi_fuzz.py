"""The OpenAPI document tells the truth: Schemathesis calls every operation of the running app
(in-process, SQLite, writer thread) with generated requests, anonymous and with each role's
token, and checks that no answer is a 500 and every answer is one the document declares, with
the schema it declares."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import make_client
from watchkeeper.api.app import create_app
from watchkeeper.config import Settings

#: Examples per operation: bounded so the whole run stays well under a minute.
EXAMPLES = 10
TOKENS = {
    "fuzz-admin-token": "admin",
    "fuzz-ingest-token": "ingest",
    "fuzz-read-token": "read",
}
#: What the document promises about answers. Left out on purpose: the checks that judge how
#: precisely the request schemas describe what is valid (positive_data_acceptance,
#: negative_data_rejection: bodies are read raw and validated by their translators, which the
#: document describes in words) and the stateful ones (use_after_free and the like).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    allow_header_conformance,
]
#: Requests of the run with tokens rotate through these (None: no token at all).
PRESENTED = itertools.cycle([None, *TOKENS])


# NDJSON bodies are documented as text (one JSON item per line): send them as text.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")

#: The database lives as long as the test session (the schema and its app are built when this
#: module is collected, before any fixture could give them a directory).
_DIR = tempfile.mkdtemp(prefix="wk-fuzz-")
atexit.register(shutil.rmtree, _DIR, True)


def _schema(name: str, tokens: dict[str, str]):
    db = os.path.join(_DIR, f"{name}.db")
    settings = Settings(
        db=f"sqlite:///{db}", writer="thread", tokens=tokens, allowed_hosts=("testserver",)
    )
    settings.command_max_wait = 0.05  # the long polls answer at once: the run stays short
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
anonymous_schema = _schema("anonymous", {})
secured_schema = _schema("secured", TOKENS)


def call(case, headers: dict[str, str] | None = None) -> None:
    # A live stream never ends by itself: read what it sends at once (its status, headers and
    # first lines are what is checked), then let the read time out, which Schemathesis takes
    # as the stream cut short.
    stream = case.operation.path.endswith("/stream")
    try:
        case.call_and_validate(headers=headers, checks=CHECKS, timeout=0.3 if stream else 30)
    except (AssertionError, FailureGroup):
        raise  # a check failed: Schemathesis's message says which, with a curl to reproduce
    except Exception as exc:
        # The application itself raised: a client would have received a 500.
        label = case.operation.label
        raise AssertionError(
            f"{label} answered 500: the application raised {exc!r}; bad input must get a 4xx.\n"
            f"Reproduce with: {case.as_curl_command(headers)}"
        ) from exc


@anonymous_schema.parametrize()
@FUZZ
def test_anonymous(case):
    call(case)


@secured_schema.parametrize()
@FUZZ
def test_with_tokens(case):
    token = next(PRESENTED)
    call(case, {"Authorization": f"Bearer {token}"} if token else None)


@pytest.mark.parametrize(
    ("method", "path", "allow", "lamia"),
    [
        ("PUT", "/api/v0", "GET, POST, DELETE", True),
        ("PATCH", "/api/v0/", "GET, POST, DELETE", True),
        ("PUT", "/api/v0/t1", "GET, POST, DELETE", True),
        ("DELETE", "/api/v0/t1/p", "GET", True),
        ("PUT", "/api/v0/t1/p/event", "GET, POST", True),
        ("POST", "/api/v0/t1/p/event/3", "GET", True),
        ("PUT", "/api/v1/state", "GET, POST", False),
        ("DELETE", "/api/v1/events", "GET, POST", False),
        ("POST", "/api/v1/tasks/a/b", "GET", False),
    ],
)
def test_other_methods_answer_405_with_allow(sqlite_url, method, path, allow, lamia):
    with make_client(sqlite_url) as client:
        r = client.request(method, path)
        assert r.status_code == 405
        assert r.headers["allow"] == allow
        if lamia:
            assert r.json()["errors"][0]["reason"] == "Method not allowed."
        else:
            assert r.json()["error"]["code"] == "method_not_allowed"
        assert client.get("/healthz").json()["last_seq"] == 0


def test_every_operation_declares_its_errors_in_the_envelope(tmp_path):
    """Deterministic where the run above samples: each operation names the answers any request
    may get, in the envelope of its path, and FastAPI's own 422 schema appears nowhere."""
    app = create_app(Settings(db=f"sqlite:///{tmp_path / 'wk.db'}"))
    doc = app.openapi()
    assert "HTTPValidationError" not in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        envelope = "LamiaErrors" if path.startswith("/api/v0") else "ErrorEnvelope"
        for method, operation in operations.items():
            label = f"{method.upper()} {path}"
            responses = operation["responses"]
            public = path in ("/healthz", "/metrics")
            expected = {"421"} if public else {"401", "403", "421"}
            assert expected <= set(responses), f"{label} declares {sorted(responses)}"
            for status, answer in responses.items():
                if not status.startswith("4"):
                    continue
                schema = answer["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{envelope}"}, (label, status)
