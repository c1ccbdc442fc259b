"""The most one request may ask for: buckets, spans and rows beyond a maximum are refused with
422 naming the parameter and the maximum, before any work is done for them."""

from __future__ import annotations

from watchkeeper.api.errors import ApiError


def at_most(name: str, asked: int, maximum: int, what: str, hint: str = "") -> int:
    """``asked`` if it is within ``maximum``; otherwise 422 on ``query.<name>``, its reason
    naming the maximum (and ``hint``, what to change)."""
    if asked > maximum:
        reason = f"at most {maximum} {what}" + (f"; {hint}" if hint else "")
        raise ApiError(
            422,
            f"{name} asks for {asked} {what}; at most {maximum}",
            [{"path": f"query.{name}", "reason": reason}],
        )
    return asked
