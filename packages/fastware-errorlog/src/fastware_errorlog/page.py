"""A read-only HTML view of an error log: the groups, one group's errors, one traceback.

    from fastware_auth import require_role          # any dependency that refuses strangers
    from fastware_errorlog import error_log_router

    router.include_router(
        error_log_router(log, dependency=require_role("admin")), prefix="/_errors"
    )

Every page is one self-contained HTML document: inline CSS, no script, no external asset,
served with a Content-Security-Policy that allows nothing else, ``Cache-Control: no-store``
and ``X-Frame-Options: DENY``. The routes declare ``dependency`` as a route dependency, so it
runs (and may refuse with 401/403) before anything is read; that needs the app's dependency
injector (``fastware.create_app`` has one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from fastware_core.exceptions import HTTPError
from fastware_core.request import Request
from fastware_core.responses import HTMLResponse
from fastware_core.routing import Router

from ._time import format_time, parse_since
from .log import ErrorLog, ErrorLogError
from .records import ErrorGroup, ErrorRecord, parse_status

__all__ = ("error_log_router",)

_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;color:#1d232a;
background:#f6f7f9}
header{background:#1d232a;color:#fff;padding:12px 24px}header a{color:#fff}
main{padding:16px 24px;max-width:1200px}
h1{font-size:18px;margin:0}h2{font-size:16px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:6px 10px;border-bottom:1px solid #e3e6ea;vertical-align:top}
th{background:#eef0f3;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.s5{color:#b3261e;font-weight:600}.s4{color:#8a5a00;font-weight:600}
pre{background:#10151a;color:#e6edf3;padding:12px;overflow:auto;white-space:pre-wrap;
word-break:break-word;border-radius:4px}
form{margin:0 0 12px}input,select{font:inherit;padding:3px 6px}
.muted{color:#66707a}.pager{margin:12px 0}dl{display:grid;grid-template-columns:max-content 1fr;
gap:4px 16px;background:#fff;padding:12px}dt{font-weight:600}dd{margin:0;word-break:break-all}
"""


def error_log_router(
    log: ErrorLog,
    *,
    dependency: Callable[..., Any] | None = None,
    public: bool = False,
    page_size: int = 50,
    title: str = "Errors",
) -> Router:
    """The routes of the error pages, to include under a prefix of your choice.

    Args:
        log: The error log to show.
        dependency: A route dependency that refuses whoever may not read errors (e.g.
            fastware-auth's ``require_role("admin")``).
        public: Serve the pages without a dependency (only for a private network).
        page_size: Rows per page.
        title: The heading.

    Raises:
        ValueError: when neither ``dependency`` nor ``public=True`` is given.
    """
    if dependency is None and not public:
        raise ValueError(
            "error_log_router needs dependency=... (e.g. require_role('admin')) to protect "
            "tracebacks; pass public=True only for a page anyone may read"
        )
    deps = {"error_log_access": dependency} if dependency is not None else None
    router = Router()

    @router.get("/", deps=deps)
    async def groups_page(request: Request) -> HTMLResponse:
        base = request.path.rstrip("/")
        filters = _filters(request)
        page = _page(request)
        offset = (page - 1) * page_size
        try:
            found, total = await asyncio.to_thread(
                lambda: (
                    log.groups(**filters, limit=page_size, offset=offset),
                    log.count_groups(**filters),
                )
            )
        except ErrorLogError as exc:
            return _html(title, base, _unavailable(exc), 503)
        body = _filter_form(request) + _groups_table(base, found)
        body += _pager(base + "/", request, page, offset + len(found) < total, total, "groups")
        return _html(title, base, body)

    @router.get("/groups/{fingerprint}", deps=deps)
    async def group_page(request: Request) -> HTMLResponse:
        group = str(request.path_params["fingerprint"])
        base = request.path[: -len("/groups/" + group)] or ""
        page = _page(request)
        offset = (page - 1) * page_size
        try:
            rows, total = await asyncio.to_thread(
                lambda: (
                    log.query(fingerprint=group, limit=page_size, offset=offset),
                    log.count(fingerprint=group),
                )
            )
        except ErrorLogError as exc:
            return _html(title, base, _unavailable(exc), 503)
        if not rows and page == 1:
            raise HTTPError(404, "No such error group")
        heading = f"<h2>{escape(rows[0].exception_type or rows[0].kind) if rows else ''}"
        heading += f" <span class=muted>{total} errors, group {escape(group)}</span></h2>"
        body = heading + _records_table(base, rows)
        body += _pager(
            base + "/groups/" + quote(group),
            request,
            page,
            offset + len(rows) < total,
            total,
            "errors",
        )
        return _html(title, base, body)

    @router.get("/errors/{error_id:int}", deps=deps)
    async def error_page(request: Request) -> HTMLResponse:
        error_id = int(request.path_params["error_id"])
        base = request.path[: -len(f"/errors/{error_id}")] or ""
        try:
            record = await asyncio.to_thread(log.get, error_id)
        except ErrorLogError as exc:
            return _html(title, base, _unavailable(exc), 503)
        if record is None:
            raise HTTPError(404, "No such error")
        return _html(title, base, _record_detail(base, record))

    return router


def _filters(request: Request) -> dict[str, Any]:
    query = request.query_params
    filters: dict[str, Any] = {}
    since = (query.get("since") or "").strip()
    if since:
        try:
            filters["since"] = parse_since(since)
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
    status = (query.get("status") or "").strip()
    if status:
        try:
            parse_status(status)
        except ValueError as exc:
            raise HTTPError(400, str(exc)) from None
        filters["status"] = status
    path = query.get("path")
    if path:
        filters["path"] = path
    kind = query.get("kind")
    if kind:
        filters["kind"] = kind
    return filters


def _page(request: Request) -> int:
    raw = request.query_params.get("page") or "1"
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or len(raw) > 9:
        raise HTTPError(400, "page must be a whole number from 1")
    return int(raw)


def _html(title: str, base: str, body: str, status: int = 200) -> HTMLResponse:
    document = (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<header><h1><a href="{escape(base or "/")}/">{escape(title)}</a></h1></header>'
        f"<main>{body}</main></body></html>"
    )
    return HTMLResponse(document, status=status, headers=_HEADERS)


def _unavailable(exc: Exception) -> str:
    return f"<p class=s5>The error log cannot be read: {escape(str(exc))}</p>"


def _status_class(status: int) -> str:
    return "s5" if status >= 500 else "s4" if status >= 400 else ""


def _filter_form(request: Request) -> str:
    query = request.query_params

    def value(name: str) -> str:
        return escape(query.get(name) or "", quote=True)

    return (
        '<form method=get><label>since <input name=since placeholder="24h" size=8 '
        f'value="{value("since")}"></label> <label>status <input name=status '
        f'placeholder="5xx" size=5 value="{value("status")}"></label> <label>path '
        f'<input name=path size=24 value="{value("path")}"></label> '
        "<button type=submit>Filter</button></form>"
    )


def _groups_table(base: str, groups: list[ErrorGroup]) -> str:
    if not groups:
        return "<p id=empty class=muted>No errors recorded. </p>"
    rows = []
    for group in groups:
        link = f"{base}/groups/{quote(group.fingerprint)}"
        what = group.exception_type or group.kind
        where = f"{group.method} {group.path}".strip() or "-"
        rows.append(
            f'<tr class=group data-fingerprint="{escape(group.fingerprint, quote=True)}">'
            f'<td><a href="{escape(link, quote=True)}">{escape(what)}</a>'
            f"<div class=muted>{escape(_first_line(group.detail))}</div></td>"
            f"<td>{escape(where)}</td>"
            f"<td class={_status_class(group.status_code)}>{group.status_code}</td>"
            f"<td class=n>{group.count}</td>"
            f"<td>{format_time(group.first_seen)}</td><td>{format_time(group.last_seen)}</td>"
            f'<td><a href="{escape(base, quote=True)}/errors/{group.last_id}">latest</a></td></tr>'
        )
    return (
        "<table id=groups><thead><tr><th>Error</th><th>Where</th><th>Status</th>"
        "<th>Count</th><th>First seen</th><th>Last seen</th><th></th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _records_table(base: str, records: list[ErrorRecord]) -> str:
    rows = [
        f'<tr class=error><td><a href="{escape(base, quote=True)}/errors/{r.id}">#{r.id}</a></td>'
        f"<td>{format_time(r.timestamp)}</td>"
        f"<td>{escape((r.method + ' ' + r.path).strip() or r.task or '-')}</td>"
        f"<td class={_status_class(r.status_code)}>{r.status_code}</td>"
        f"<td>{escape(r.user or '-')}</td><td>{escape(_first_line(r.detail))}</td></tr>"
        for r in records
    ]
    return (
        "<table id=errors><thead><tr><th>Id</th><th>When</th><th>Where</th><th>Status</th>"
        "<th>User</th><th>Detail</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _record_detail(base: str, record: ErrorRecord) -> str:
    fields = [
        ("Id", str(record.id)),
        ("When", format_time(record.timestamp)),
        ("Kind", record.kind),
        ("Exception", record.exception_type or "-"),
        ("Request", f"{record.method} {record.path}".strip() or "-"),
        ("Status", str(record.status_code)),
        ("Request id", record.request_id or "-"),
        ("User", record.user or "-"),
        ("Task", record.task or "-"),
        ("Process", str(record.pid or "-")),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in fields)
    group = f"{base}/groups/{quote(record.fingerprint)}"
    parts = [
        f"<h2 id=title>{escape(record.exception_type or record.kind)}: "
        f"{escape(_first_line(record.detail))}</h2>",
        f'<dl>{items}<dt>Group</dt><dd><a href="{escape(group, quote=True)}">'
        f"{escape(record.fingerprint)}</a></dd></dl>",
    ]
    if record.detail:
        parts.append(f"<h2>Detail</h2><pre id=detail>{escape(record.detail)}</pre>")
    if record.traceback:
        parts.append(f"<h2>Traceback</h2><pre id=traceback>{escape(record.traceback)}</pre>")
    if record.headers:
        header_rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(value)}</td></tr>"
            for name, value in record.headers
        )
        parts.append(f"<h2>Request headers</h2><table id=headers>{header_rows}</table>")
    return "".join(parts)


def _pager(target: str, request: Request, page: int, more: bool, total: int, noun: str) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]

    def link(number: int, label: str) -> str:
        query = urlencode([*kept, ("page", str(number))])
        return f'<a href="{escape(target, quote=True)}?{escape(query, quote=True)}">{label}</a>'

    parts = [f"<span class=muted>{total} {noun}</span>"]
    if page > 1:
        parts.append(link(page - 1, "newer"))
    if more:
        parts.append(link(page + 1, "older"))
    return f"<div class=pager>{' · '.join(parts)}</div>"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."
