"""The API's interactive documentation: Swagger UI at ``/docs`` and ReDoc at ``/redoc``.

FastAPI's own pages load both from a CDN and start Swagger UI from an inline script; these load
the copies an installed package ships (:mod:`watchkeeper.ui.assets`) and start from a static
script, so they work offline and under a policy that forbids inline scripts. Like the OpenAPI
document they describe, they need no token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from watchkeeper.api.auth import public
from watchkeeper.ui.render import templates

router = APIRouter(include_in_schema=False, dependencies=[public()])


@router.get("/docs")
def swagger_ui(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "apidocs_swagger.html", {"openapi_url": request.app.openapi_url}
    )


@router.get("/redoc")
def redoc(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "apidocs_redoc.html", {"openapi_url": request.app.openapi_url}
    )
