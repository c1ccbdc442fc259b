"""The arguments of a hot route's endpoint, read from its request the way FastAPI reads them.

A hot route (:mod:`watchkeeper.api.hotpath`) skips FastAPI's dependency solving, so its path
and query parameters and its JSON body are validated here, from the same FastAPI declarations
(``Annotated[int, Path(ge=0)]``, a pydantic model for the body): the same checks, and on a bad
value the same :class:`~fastapi.exceptions.RequestValidationError` with the same locations
(``path.nid``, ``query.wait``, ``body.gid``, ``body[9]`` for a JSON syntax error), which the
application renders in its error envelope.

A body is parsed and validated in one step (pydantic's ``model_validate_json``); only a body
that fails is read again as FastAPI reads it (``json.loads``, then the model), so that every
refusal names the same fields with the same reasons as FastAPI's would.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi.dependencies.utils import get_dependant, request_params_to_args
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from watchkeeper.api.body import read_body

Values = dict[str, Any]
Errors = list[Any]


class Arguments:
    """Reads the endpoint's arguments (besides ``request``) from a request, or refuses it."""

    def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
        dependant = get_dependant(path=path, call=endpoint)
        if (
            dependant.header_params
            or dependant.cookie_params
            or dependant.dependencies
            or len(dependant.body_params) > 1
        ):
            raise TypeError(
                f"{endpoint.__name__}: a hot route takes path and query parameters, at most "
                "one body model and the request, nothing else"
            )
        self._path = dependant.path_params
        self._query = dependant.query_params
        self._body = dependant.body_params
        self._model: type[BaseModel] | None = None
        if self._body:
            model = self._body[0].field_info.annotation
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{endpoint.__name__}: a hot route's body is a pydantic model")
            self._model = model

    def path(self, request: Request) -> tuple[Values, Errors]:
        """The path parameters, validated (checks such as the bound agent's need them)."""
        if not self._path:
            return {}, []
        return request_params_to_args(self._path, request.path_params)

    async def rest(self, request: Request) -> tuple[Values, Errors]:
        """The query parameters and the body, validated."""
        values, errors = request_params_to_args(self._query, request.query_params)
        if self._model is not None:
            found, wrong = await self._read_body(request)
            values.update(found)
            errors.extend(wrong)
        return values, errors

    async def _read_body(self, request: Request) -> tuple[Values, Errors]:
        assert self._model is not None
        name = self._body[0].name
        body = await read_body(request, request.app.state.settings.max_body_bytes)
        is_json = _is_json(request.headers.get("content-type"))
        if body and is_json:
            try:
                return {name: self._model.model_validate_json(body)}, []
            except ValidationError:
                pass  # read again as FastAPI does, for its locations and reasons
        received: Any = body  # not JSON: the model refuses it, as FastAPI's does
        if not body:
            return {}, [{"type": "missing", "loc": ("body",), "msg": "Field required"}]
        if is_json:
            try:
                received = json.loads(body)
            except json.JSONDecodeError as exc:
                error = {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
                return {}, [error]
            except ValueError:  # not UTF-8, -16 or -32
                raise HTTPException(400, "There was an error parsing the body") from None
        try:
            # FastAPI's validation of a body field: Python values, attributes read as fields.
            return {name: self._model.model_validate(received, from_attributes=True)}, []
        except ValidationError as invalid:
            wrong = invalid.errors(include_url=False)
            return {}, [{**error, "loc": ("body", *error["loc"])} for error in wrong]


def _is_json(content_type: str | None) -> bool:
    """FastAPI's test: ``application/json``, ``application/*+json``. Without a type the body is
    not read as JSON (FastAPI's strict content type)."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = media.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))
