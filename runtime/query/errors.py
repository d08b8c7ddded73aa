"""Domain errors of the query layer; the HTTP edge maps each to a typed 4xx answer."""

from __future__ import annotations


class QueryError(Exception):
    """Base class; ``str(exc)`` is safe to show to the API caller."""


class InvalidQueryError(QueryError):
    """A parameter is malformed or out of range (400)."""


class InvalidPageTokenError(InvalidQueryError):
    """``next_token`` was forged, truncated or issued for another route/filter (400)."""


class NotFoundError(QueryError):
    """Nothing is known under this id (404)."""


class ExpiredError(QueryError):
    """The id is known (or provably was sent) but its data is past its TTL (410, "no data")."""
