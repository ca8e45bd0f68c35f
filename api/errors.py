"""Errors at the API edge, all answered in one JSON shape.

Every error body is ``{"error": {"code": ..., "message": ..., "fields": [...]}}``:
``code`` is stable for programs, ``message`` is one line for people, ``fields`` lists
per-field problems of an invalid request.

>>> ApiError(404, "not_found", "no such instance").body().model_dump()
{'error': {'code': 'not_found', 'message': 'no such instance', 'fields': []}}
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from spendsense.errors import ConfigError, NotFound, TenantAccessError

log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str
    message: str
    fields: list[FieldProblem] = []


class ErrorBody(BaseModel):
    """The one error shape every endpoint answers with."""

    error: ErrorDetail


class ApiError(Exception):
    """An error meant for the caller: HTTP status, stable code, one-line message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: list[FieldProblem] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or []
        self.headers = headers

    def body(self) -> ErrorBody:
        return ErrorBody(
            error=ErrorDetail(code=self.code, message=self.message, fields=self.fields)
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 422, 429, 502)
}

_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
}


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def _clean_message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def validation_problems(exc: RequestValidationError) -> list[FieldProblem]:
    """The per-field problems of an invalid request, one clear line each."""
    return [
        FieldProblem(
            field=_field_name(tuple(err.get("loc", ()))), message=_clean_message(err["msg"])
        )
        for err in exc.errors()
    ]


def _respond(err: ApiError) -> JSONResponse:
    return JSONResponse(err.body().model_dump(), status_code=err.status, headers=err.headers)


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _respond(exc)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    headers = dict(exc.headers) if exc.headers else None
    return _respond(ApiError(exc.status_code, code, message, headers=headers))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = validation_problems(exc)
    first = problems[0] if problems else FieldProblem(field="request", message="invalid")
    return _respond(ApiError(422, "invalid_request", f"{first.field}: {first.message}", problems))


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return _respond(ApiError(404, "not_found", str(exc) or "not found"))


async def _config_error(_request: Request, exc: Exception) -> JSONResponse:
    return _respond(ApiError(400, "invalid_request", str(exc)))


async def _tenant_access(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TenantAccessError)
    return _respond(ApiError(502, f"aws_{exc.code}", exc.message))


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.error("unhandled error: %s: %s", type(exc).__name__, exc, exc_info=exc)
    return _respond(ApiError(500, "internal_error", "SpendSense hit an unexpected error"))


def install_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise to the one JSON shape."""
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(NotFound, _not_found)
    app.add_exception_handler(ConfigError, _config_error)
    app.add_exception_handler(TenantAccessError, _tenant_access)
    app.add_exception_handler(Exception, _unexpected)
