"""``packages.yml``: which host serves which package, and what a request to it means.

Parsed as offspot parsed it, with the same warnings word for word (a package with a problem is
skipped, never fatal) and the same two errors for a file without packages. Routing follows
offspot's input generators: ZIM content (``/content/<zim>/...``), file shares, edupi and the
file manager (shared files created and deleted), and any other app.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from watchkeeper.inputs.caddy import AccessLine

#: Where offspot looked when nothing else was said.
OFFSPOT_DEFAULT = "/conf/packages.yml"
EDUPI = "edupi.offspot.kiwix.org"
FILE_MANAGER = "file-manager.offspot.kiwix.org"

_HOST = re.compile(r"^//(?P<host>.*?)/.*")
_VIEWER = re.compile(r"^//.*?/viewer#(?P<zim_name>.*)$")
_CONTENT_URL = re.compile(r"^//.*?/content/(?P<zim_name>.+?)(?:/.*)?$")
_CONTENT_URI = re.compile(r"^/content/(?P<zim_name>.+?)(?P<zim_path>/.*)?$")
_ITEM_TYPES = ("html", "epub", "pdf")


class IncorrectConfigurationError(ValueError):
    """The file has no packages at all (offspot's two messages)."""


@dataclass(slots=True, frozen=True)
class Package:
    kind: str  # "zim", "files" or "app"
    title: str
    host: str
    name: str = ""  # the ZIM name of a zim package, the ident of an app


@dataclass(slots=True)
class Packages:
    packages: list[Package] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def by_host(self) -> dict[str, list[Package]]:
        hosts: dict[str, list[Package]] = {}
        for package in self.packages:
            hosts.setdefault(package.host, []).append(package)
        return hosts


def parse(data: Any) -> Packages:
    """The packages of a loaded ``packages.yml``, and a warning per package skipped."""
    if not data:
        raise IncorrectConfigurationError("configuration is missing or empty")
    if not isinstance(data, Mapping) or "packages" not in data:
        raise IncorrectConfigurationError("'packages' key not found in configuration")
    result = Packages()
    for package in data["packages"] or []:
        _one(package if isinstance(package, Mapping) else {}, result)
    return result


def _one(package: Mapping[str, Any], result: Packages) -> None:
    warn = result.warnings.append
    url = package.get("url")
    if not url:
        return warn("Package with missing 'url' ignored")
    title = package.get("title")
    if not title:
        return warn("Package with missing 'title' ignored")
    match = _HOST.match(str(url))
    if not match:
        return warn(f"Unsupported URL: {url}")
    host = match.group("host")
    kind = package.get("kind")
    if kind == "app":
        result.packages.append(Package("app", str(title), host, str(package.get("ident"))))
    elif kind == "files":
        result.packages.append(Package("files", str(title), host))
    elif kind == "zim":
        zim = _VIEWER.match(str(url)) or _CONTENT_URL.match(str(url))
        if not zim:
            return warn(f"Unsupported ZIM URL: {url}")
        result.packages.append(Package("zim", str(title), host, zim.group("zim_name")))
    elif kind is None:
        return warn("Package with missing 'kind' ignored")
    else:
        return warn(f"Package with unsupported 'kind' : '{kind}' ignored")
    return None


def load(path: str | os.PathLike[str]) -> Packages:
    with open(path, encoding="utf-8") as fh:
        return parse(yaml.safe_load(fh))


def location(configured: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """The packages file: ``[kpis] packages``, else ``WATCHKEEPER_PACKAGES``, else offspot's
    ``PACKAGE_CONF_FILE``."""
    env = os.environ if env is None else env
    return configured or env.get("WATCHKEEPER_PACKAGES") or env.get("PACKAGE_CONF_FILE") or None


@dataclass(slots=True, frozen=True)
class Observation:
    """One input of offspot's indicators: ``what`` is ``home`` (a package's home page was
    visited), ``request`` (any request to a package), ``item`` (a ZIM page, PDF or EPUB was
    read) or ``files`` (shared files created or deleted: ``detail`` says which, ``count`` how
    many)."""

    what: str
    package: str
    detail: str = ""
    count: int = 1
    #: The request it came from, for indicators of one's own (its time is not to be used:
    #: what a request adds is worked out once per host, URI, method, status and type).
    line: AccessLine | None = field(default=None, compare=False)


class Router:
    """Maps a counted request to the observations offspot's generators made of it."""

    def __init__(self, packages: Packages) -> None:
        self.hosts = packages.by_host()

    def route(self, line: AccessLine) -> list[Observation]:
        return [replace(obs, line=line) for obs in self._route(line)]

    def _route(self, line: AccessLine) -> list[Observation]:
        out: list[Observation] = []
        for package in self.hosts.get(line.host, ()):
            if package.kind == "zim":
                out.extend(_zim(package, line))
            elif package.kind == "files":
                if line.uri == "/":
                    out.append(Observation("home", package.title))
                out.append(Observation("request", package.title))
            else:
                out.append(Observation("request", package.title))
                out.extend(_shared_files(package, line))
        return out


def _zim(package: Package, line: AccessLine) -> list[Observation]:
    match = _CONTENT_URI.match(line.uri)
    if not match or match.group("zim_name") != package.name:
        return []
    path = match.group("zim_path")
    if path is None or path == "/":
        return [Observation("home", package.title), Observation("request", package.title)]
    out = [Observation("request", package.title)]
    ctype = line.content_type or ""
    if any(kind in ctype for kind in _ITEM_TYPES):
        out.append(Observation("item", package.title, path))
    return out


def _shared_files(package: Package, line: AccessLine) -> list[Observation]:
    if package.name == EDUPI:
        if line.method == "POST" and line.status == 201 and line.uri == "/api/documents/":
            return [Observation("files", package.title, "FILE_CREATED")]
        if (
            line.method == "DELETE"
            and line.status == 204
            and line.uri.startswith("/api/documents/")
            and len(line.uri) > len("/api/documents/")
        ):
            return [Observation("files", package.title, "FILE_DELETED")]
    elif package.name == FILE_MANAGER:
        out = []
        if line.files_added:
            out.append(Observation("files", package.title, "FILE_CREATED", line.files_added))
        if line.files_deleted:
            out.append(Observation("files", package.title, "FILE_DELETED", line.files_deleted))
        return out
    return []
