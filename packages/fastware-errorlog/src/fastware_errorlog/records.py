"""What the query API returns, and the SQL behind it.

Every query reads through its own connection and uses an index: ``timestamp`` for time
ranges, ``(fingerprint, timestamp)`` for groups, ``(status_code, timestamp)`` and
``(path, timestamp)`` for those filters.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import msgspec

from ._schema import COLUMNS

__all__ = ("ErrorFilter", "ErrorGroup", "ErrorRecord", "ErrorStats", "parse_status")


class ErrorRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row of the ``errors`` table."""

    id: int
    """Row id (grows with time)."""
    timestamp: float
    """When it happened, in epoch seconds."""
    method: str
    """The request method (``""`` for WebSockets and tasks)."""
    path: str
    """The request path, without the query string."""
    status_code: int
    """The status answered (1011 for a WebSocket, 0 for a task)."""
    detail: str
    """The exception message, or the caller's detail."""
    request_id: str
    """The request id, when there was one."""
    user: str
    """The authenticated user, when there was one."""
    traceback: str
    """The formatted traceback (``""`` for rows appended without one)."""
    kind: str
    """``http``, ``websocket``, ``task``, ``appended`` (0.6.3's ``append``) or ``dropped``
    (a note that the queue was full and rows were dropped)."""
    exception_type: str
    """The exception's qualified class name."""
    fingerprint: str
    """The group this error belongs to (see :mod:`fastware_errorlog.fingerprint`)."""
    headers: list[tuple[str, str]]
    """The request headers, with credentials redacted."""
    task: str
    """The background task's name for ``kind="task"``."""
    pid: int
    """The process that recorded it."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain dict (every column)."""
        return {name: getattr(self, name) for name in self.__struct_fields__}


class ErrorGroup(msgspec.Struct, frozen=True, kw_only=True):
    """All errors that share a fingerprint, within a query's filters."""

    fingerprint: str
    """The shared fingerprint."""
    exception_type: str
    """The exception type of the latest error."""
    kind: str
    """The kind of the latest error."""
    count: int
    """How many errors."""
    first_seen: float
    """The earliest timestamp."""
    last_seen: float
    """The latest timestamp."""
    last_id: int
    """The id of the latest error (for ``show``)."""
    method: str
    """The latest error's method."""
    path: str
    """The latest error's path."""
    status_code: int
    """The latest error's status."""
    detail: str
    """The latest error's detail."""


class ErrorStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counts over a time window."""

    since: float | None
    """Start of the window (``None``: from the first row)."""
    until: float | None
    """End of the window (``None``: now)."""
    total: int
    """Errors in the window."""
    groups: int
    """Distinct fingerprints in the window."""
    by_status: dict[str, int]
    """Errors per status code (as text keys, for JSON)."""
    by_kind: dict[str, int]
    """Errors per kind."""
    top: list[ErrorGroup]
    """The most frequent groups, most frequent first."""


@dataclass(slots=True, frozen=True)
class ErrorFilter:
    """The filters every query accepts (all optional, combined with AND)."""

    since: float | None = None
    """Only errors at or after this epoch time."""
    until: float | None = None
    """Only errors before this epoch time."""
    status: int | str | None = None
    """A status code (``503``) or a class (``"5xx"``, ``"4xx"``)."""
    path: str | None = None
    """Only this exact path."""
    fingerprint: str | None = None
    """Only this group."""
    kind: str | None = None
    """Only this kind (``http``, ``websocket``, ``task``, ...)."""

    def where(self) -> tuple[str, list[Any]]:
        """The SQL ``WHERE`` clause (possibly empty) and its parameters."""
        clauses: list[str] = []
        params: list[Any] = []
        if self.since is not None:
            clauses.append("timestamp >= ?")
            params.append(float(self.since))
        if self.until is not None:
            clauses.append("timestamp < ?")
            params.append(float(self.until))
        if self.status is not None:
            low, high = parse_status(self.status)
            if low == high:
                clauses.append("status_code = ?")
                params.append(low)
            else:
                clauses.append("status_code BETWEEN ? AND ?")
                params += [low, high]
        if self.path is not None:
            clauses.append("path = ?")
            params.append(self.path)
        if self.fingerprint is not None:
            clauses.append("fingerprint = ?")
            params.append(self.fingerprint)
        if self.kind is not None:
            clauses.append("kind = ?")
            params.append(self.kind)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def parse_status(status: int | str) -> tuple[int, int]:
    """``503`` -> ``(503, 503)``; ``"5xx"`` -> ``(500, 599)``.

    Raises:
        ValueError: for anything else, saying what is accepted.
    """
    if isinstance(status, int) and not isinstance(status, bool):
        return status, status
    text = str(status).strip().lower()
    if text.isdigit() and text.isascii():
        return int(text), int(text)
    if len(text) == 3 and text[0] in "12345" and text[1:] == "xx":
        low = int(text[0]) * 100
        return low, low + 99
    raise ValueError(f"status must be a code like 503 or a class like 5xx, not {status!r}")


_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + " FROM errors"


def record_from_row(row: tuple[Any, ...]) -> ErrorRecord:
    """An :class:`ErrorRecord` from a row selected with every column in order."""
    values = dict(zip(COLUMNS, row, strict=True))
    raw_headers = values.get("headers") or ""
    headers: list[tuple[str, str]] = []
    if raw_headers:
        try:
            headers = [(str(k), str(v)) for k, v in msgspec.json.decode(raw_headers)]
        except (msgspec.DecodeError, ValueError, TypeError):
            headers = []
    return ErrorRecord(
        id=int(values["id"]),
        timestamp=float(values["timestamp"] or 0.0),
        method=str(values["method"] or ""),
        path=str(values["path"] or ""),
        status_code=int(values["status_code"] or 0),
        detail=str(values["detail"] or ""),
        request_id=str(values["request_id"] or ""),
        user=str(values["user"] or ""),
        traceback=str(values["traceback"] or ""),
        kind=str(values["kind"] or "http"),
        exception_type=str(values["exception_type"] or ""),
        fingerprint=str(values["fingerprint"] or ""),
        headers=headers,
        task=str(values["task"] or ""),
        pid=int(values["pid"] or 0),
    )


def select_records(
    conn: sqlite3.Connection,
    where: ErrorFilter,
    *,
    limit: int,
    offset: int = 0,
    before_id: int | None = None,
) -> list[ErrorRecord]:
    """Rows matching ``where``, newest first."""
    clause, params = where.where()
    if before_id is not None:
        clause += (" AND" if clause else " WHERE") + " id < ?"
        params.append(int(before_id))
    sql = f"{_SELECT}{clause} ORDER BY id DESC LIMIT ? OFFSET ?"
    rows = conn.execute(sql, [*params, _limit(limit), max(0, int(offset))]).fetchall()
    return [record_from_row(row) for row in rows]


def select_record(conn: sqlite3.Connection, error_id: int) -> ErrorRecord | None:
    """One row by id."""
    row = conn.execute(f"{_SELECT} WHERE id = ?", (int(error_id),)).fetchone()
    return None if row is None else record_from_row(row)


def count_records(conn: sqlite3.Connection, where: ErrorFilter) -> int:
    """How many rows match."""
    clause, params = where.where()
    (count,) = conn.execute(f"SELECT COUNT(*) FROM errors{clause}", params).fetchone()
    return int(count)


def select_groups(
    conn: sqlite3.Connection,
    where: ErrorFilter,
    *,
    limit: int,
    offset: int = 0,
    order: str = "last",
) -> list[ErrorGroup]:
    """Groups matching ``where``: latest first (``order="last"``) or largest first."""
    clause, params = where.where()
    ordering = "count DESC, last_id DESC" if order == "count" else "last_id DESC"
    sql = (
        "SELECT g.fingerprint, g.count, g.first_seen, g.last_seen, g.last_id, e.exception_type,"
        " e.kind, e.method, e.path, e.status_code, e.detail FROM ("
        "SELECT fingerprint, COUNT(*) AS count, MIN(timestamp) AS first_seen,"
        f" MAX(timestamp) AS last_seen, MAX(id) AS last_id FROM errors{clause}"
        " GROUP BY fingerprint) AS g JOIN errors AS e ON e.id = g.last_id"
        f" ORDER BY {ordering} LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, [*params, _limit(limit), max(0, int(offset))]).fetchall()
    return [
        ErrorGroup(
            fingerprint=str(r[0] or ""),
            count=int(r[1]),
            first_seen=float(r[2] or 0.0),
            last_seen=float(r[3] or 0.0),
            last_id=int(r[4]),
            exception_type=str(r[5] or ""),
            kind=str(r[6] or ""),
            method=str(r[7] or ""),
            path=str(r[8] or ""),
            status_code=int(r[9] or 0),
            detail=str(r[10] or ""),
        )
        for r in rows
    ]


def count_groups(conn: sqlite3.Connection, where: ErrorFilter) -> int:
    """How many distinct fingerprints match."""
    clause, params = where.where()
    sql = f"SELECT COUNT(DISTINCT fingerprint) FROM errors{clause}"
    (count,) = conn.execute(sql, params).fetchone()
    return int(count)


def compute_stats(conn: sqlite3.Connection, where: ErrorFilter, *, top: int) -> ErrorStats:
    """Totals, per-status and per-kind counts and the top groups within ``where``."""
    clause, params = where.where()
    by_status = {
        str(status): int(count)
        for status, count in conn.execute(
            f"SELECT status_code, COUNT(*) FROM errors{clause} GROUP BY status_code"
            " ORDER BY status_code",
            params,
        )
    }
    by_kind = {
        str(kind): int(count)
        for kind, count in conn.execute(
            f"SELECT kind, COUNT(*) FROM errors{clause} GROUP BY kind ORDER BY kind", params
        )
    }
    return ErrorStats(
        since=where.since,
        until=where.until,
        total=sum(by_status.values()),
        groups=count_groups(conn, where),
        by_status=by_status,
        by_kind=by_kind,
        top=select_groups(conn, where, limit=top, order="count"),
    )


def _limit(limit: int) -> int:
    limit = int(limit)
    if limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    return limit
