"""Golden Caddy lines (2.6, 2.11, Filebeat-wrapped), offspot's rules, and packages.yml."""

from __future__ import annotations

import orjson
import pytest

from watchkeeper.inputs import caddy, packages
from watchkeeper.inputs.caddy import LineError

CADDY_26 = (
    b'{"level":"info","ts":1688459792.8632474,"logger":"http.log.access.log0",'
    b'"msg":"handled request","request":{"remote_ip":"172.18.0.1","remote_port":"40236",'
    b'"proto":"HTTP/1.1","method":"GET","host":"nomad.test","uri":"/",'
    b'"headers":{"Accept":["text/html"]}},"user_id":"","duration":0.00134691,"size":124,'
    b'"status":200,"resp_headers":{"Content-Type":["text/html; charset=utf-8"]}}'
)
CADDY_211_404 = (
    b'{"level":"info","ts":1764500000.25,"logger":"http.log.access.log0",'
    b'"msg":"handled request","request":{"remote_ip":"127.0.0.1","remote_port":"5500",'
    b'"client_ip":"127.0.0.1","proto":"HTTP/1.1","method":"GET","host":"kiwix.test",'
    b'"uri":"/content/wikipedia/missing"},"bytes_read":0,"user_id":"","duration":0.0001,'
    b'"size":0,"status":404,"resp_headers":{"Server":["Caddy"]}}'
)
CADDY_26_404 = CADDY_211_404.replace(b'"level":"info"', b'"level":"error"')


def test_caddy_26_line_counts() -> None:
    line = caddy.parse(CADDY_26)
    assert line is not None
    assert (line.host, line.uri, line.method, line.status) == ("nomad.test", "/", "GET", 200)
    assert line.content_type == "text/html; charset=utf-8"
    assert line.ts == pytest.approx(1688459792.8632474)


def test_caddy_211_404_counts_where_26_logged_an_error() -> None:
    line = caddy.parse(CADDY_211_404)
    assert line is not None and line.status == 404
    assert caddy.parse(CADDY_26_404) is None


def test_filebeat_wrapped_line() -> None:
    wrapped = orjson.dumps(
        {"@timestamp": "2023-07-04T08:36:34.383Z", "message": CADDY_26.decode(), "agent": {}}
    )
    assert caddy.parse(wrapped) == caddy.parse(CADDY_26)


# offspot's processing_nok.txt: none of these is counted.
SKIPPED = [
    b"{}",
    b'{"message":"{}"}',
    b'{"message":"{\\"level\\":\\"warn\\"}"}',
    b'{"message":"{\\"level\\":\\"info\\"}"}',
    b'{"message":"{\\"level\\":\\"info\\",\\"msg\\":\\"something\\"}"}',
    b'{"message":"{\\"level\\":\\"info\\",\\"msg\\":\\"handled request\\"}"}',
    b'{"message":"{\\"level\\":\\"info\\",\\"msg\\":\\"handled request\\",\\"request\\":{}}"}',
    b'{"level":"info","msg":"handled request","request":{"host":"a.test"},"ts":1}',
    b'{"level":"info","msg":"handled request","request":{"uri":"/"},"ts":1}',
]


@pytest.mark.parametrize("raw", SKIPPED)
def test_offspot_rules_skip(raw: bytes) -> None:
    assert caddy.parse(raw) is None


@pytest.mark.parametrize(
    "raw", [b"garbage", b"[1,2]", b'{"message":""}', b'{"message":3}', b'{"level":"info"']
)
def test_not_a_caddy_line_is_an_error(raw: bytes) -> None:
    with pytest.raises(LineError):
        caddy.parse(raw)


WARNINGS_CONF = {
    "packages": [
        {"kind": "zim", "title": "Wikipedia", "url": "//kiwix.renaud.test/viewer#wikipedia_en_all"},
        {"toto": "tata"},
        {"url": "tata"},
        {"url": "tata", "title": "toto"},
        {"url": "//kiwix.renaud.test/viewer#wikipedia_en_all", "title": "toto"},
        {"kind": "zim", "url": "//kaka.renaud.test/viewer#toto", "title": "toto title"},
        {"kind": "zim", "url": "//kiwix.renaud.test/kkkk#toto", "title": "toto"},
        {"kind": "ooo", "url": "//kiwix.renaud.test/ssss", "title": "toto"},
        {
            "kind": "app",
            "ident": "edupi.offspot.kiwix.org",
            "title": "Shared files",
            "url": "//edupi.renaud.test/",
        },
    ]
}


def test_packages_warnings_word_for_word() -> None:
    parsed = packages.parse(WARNINGS_CONF)
    assert parsed.warnings == [
        "Package with missing 'url' ignored",
        "Package with missing 'title' ignored",
        "Unsupported URL: tata",
        "Package with missing 'kind' ignored",
        "Unsupported ZIM URL: //kiwix.renaud.test/kkkk#toto",
        "Package with unsupported 'kind' : 'ooo' ignored",
    ]
    assert [p.title for p in parsed.packages] == ["Wikipedia", "toto title", "Shared files"]


@pytest.mark.parametrize(
    ("data", "message"),
    [(None, "configuration is missing or empty"), ({"x": 1}, "'packages' key not found")],
)
def test_packages_errors(data: object, message: str) -> None:
    with pytest.raises(packages.IncorrectConfigurationError, match=message):
        packages.parse(data)


def test_package_file_location_order() -> None:
    env = {"WATCHKEEPER_PACKAGES": "/a.yml", "PACKAGE_CONF_FILE": "/b.yml"}
    assert packages.location("/c.yml", env) == "/c.yml"
    assert packages.location(None, env) == "/a.yml"
    assert packages.location(None, {"PACKAGE_CONF_FILE": "/b.yml"}) == "/b.yml"
    assert packages.location(None, {}) is None


def test_routing_like_offspot_generators() -> None:
    router = packages.Router(packages.parse(WARNINGS_CONF))
    home = caddy.parse(
        CADDY_26.replace(
            b'"nomad.test","uri":"/"', b'"kiwix.renaud.test","uri":"/content/wikipedia_en_all/"'
        )
    )
    assert home is not None
    assert [o.what for o in router.route(home)] == ["home", "request"]
    post = caddy.parse(
        CADDY_26.replace(
            b'"method":"GET","host":"nomad.test","uri":"/"',
            b'"method":"POST","host":"edupi.renaud.test","uri":"/api/documents/"',
        ).replace(b'"status":200', b'"status":201')
    )
    assert post is not None
    assert [(o.what, o.detail) for o in router.route(post)] == [
        ("request", ""),
        ("files", "FILE_CREATED"),
    ]


def test_clock_skew_setting() -> None:
    from watchkeeper.config import ConfigError
    from watchkeeper.inputs.settings import parse_kpis

    assert parse_kpis({})["max_clock_skew_seconds"] == 3600
    assert parse_kpis({"max_clock_skew_seconds": 0})["max_clock_skew_seconds"] == 0
    for bad in (-1, "1h", True, 400 * 86400):
        with pytest.raises(ConfigError, match="max_clock_skew_seconds"):
            parse_kpis({"max_clock_skew_seconds": bad})
