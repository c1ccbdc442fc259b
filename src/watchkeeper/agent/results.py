"""Result messages (levels 20, 21, 22 and 30) parsed into values.

A result that does not parse is not an error of the run: the message is kept as text and the
reason travels with it.
"""

from __future__ import annotations

import tomllib
from typing import Any

import orjson
import yaml

from watchkeeper.agent import levels


def parse_result(level: int, text: str) -> tuple[Any, str | None]:
    """``(value, None)`` for a parsed result, ``(None, reason)`` when it does not parse, and
    ``(None, None)`` for levels that carry no machine-readable result."""
    try:
        if level in (levels.RESULT_JSON, levels.JOB):
            return orjson.loads(text), None
        if level == levels.RESULT_YAML:
            return yaml.safe_load(text), None
        if level == levels.RESULT_TOML:
            return tomllib.loads(text), None
    except orjson.JSONDecodeError as exc:
        return None, f"invalid JSON: {exc}"
    except yaml.YAMLError as exc:
        return None, f"invalid YAML: {_one_line(exc)}"
    except tomllib.TOMLDecodeError as exc:
        return None, f"invalid TOML: {exc}"
    except (ValueError, RecursionError) as exc:
        return None, f"unparsable result: {_one_line(exc)}"
    return None, None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
