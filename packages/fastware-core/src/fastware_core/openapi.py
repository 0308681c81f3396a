"""OpenAPI 3.1 from the routes, and the interactive docs page that shows it.

``app.openapi()`` builds the document from every HTTP route: paths and methods, the
parameters and request bodies handlers declare (:mod:`fastware_core.params`), responses from
return annotations or ``response_model``, summaries and descriptions from docstrings, and the
route options ``tags``, ``deprecated``, ``summary``, ``description``, ``operation_id``,
``responses`` and ``include_in_schema``. Schemas come from msgspec's JSON Schema generation,
each named type once under ``components/schemas``.

Security schemes come from dependencies: a dependency factory (in ``deps=`` or behind a
``Depends`` marker) with an ``openapi_security`` attribute (:class:`SecurityDependency`)
adds its schemes and requirement to every operation that uses it; fastware-auth's
``get_current_user`` and ``require_role`` carry one.

The app serves the document at ``AppConfig.openapi_path`` (default ``/openapi.json``) and a
Swagger UI page at ``AppConfig.docs_path`` (default ``/docs``). The page's JavaScript and CSS
come from the ``swagger-ui-bundle-v2`` package (``pip install 'fastware-core[docs]'``) and
are served by the app, never from a CDN. Either path set to ``None`` switches it off.
"""

from __future__ import annotations

import asyncio
import html
import importlib
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, Any, Protocol, get_origin, runtime_checkable

import msgspec

from ._json import encode_json
from .exceptions import FastwareError, RouteDefinitionError
from .forms import UploadFile
from .params import BODY_SOURCES, DeclaredParameter, plan_for, pydantic_model, resolve_annotations
from .responses import BytesResponse, HTMLResponse, Response
from .routing import RouteEntry, parse_path

if TYPE_CHECKING:
    from .dispatch import Dispatcher

__all__ = ("SecurityDependency", "build_openapi", "docs_entries")

OPENAPI_VERSION = "3.1.0"
_CONVERTER_SCHEMAS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "uuid": {"type": "string", "format": "uuid"},
    "str": {"type": "string"},
    "path": {"type": "string"},
}
_VALIDATION_ERROR = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
                "required": ["loc", "msg", "type"],
            },
        }
    },
    "required": ["detail"],
}
_REASONS = {
    200: "Successful Response",
    201: "Created",
    202: "Accepted",
    204: "No Content",
}


@runtime_checkable
class SecurityDependency(Protocol):
    """A dependency factory that tells the OpenAPI document how it authenticates.

    ``openapi_security`` maps scheme names to OpenAPI security scheme objects, e.g.
    ``{"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}``; every
    operation using the dependency requires those schemes.
    """

    openapi_security: Mapping[str, Mapping[str, Any]]


def _security_of(entry: RouteEntry) -> dict[str, Mapping[str, Any]]:
    """The security schemes of the dependencies ``entry`` uses (deps and markers)."""
    found: dict[str, Mapping[str, Any]] = {}
    candidates: list[Any] = list((entry.deps or {}).values())
    signature = resolve_annotations(entry.handler)  # string annotations evaluated
    if signature is not None:
        for param in signature.parameters.values():
            candidates.append(param.default)
            annotation = param.annotation
            if get_origin(annotation) is not None or hasattr(annotation, "__metadata__"):
                candidates.extend(getattr(annotation, "__metadata__", ()))
    for candidate in candidates:
        factory = getattr(candidate, "factory", candidate)  # a Depends marker, or the factory
        schemes = getattr(factory, "openapi_security", None)
        if isinstance(schemes, Mapping):
            found.update(schemes)
    return found


def _operation_id(entry: RouteEntry, used: set[str]) -> str:
    name = getattr(entry.handler, "__name__", "handler")
    path = re.sub(r"\W+", "_", _openapi_path(entry)).strip("_")
    base = f"{name}_{path}_{entry.method.lower()}" if path else f"{name}_{entry.method.lower()}"
    candidate, n = base, 2
    while candidate in used:
        candidate, n = f"{base}_{n}", n + 1
    used.add(candidate)
    return candidate


def _docstring(handler: Any) -> tuple[str | None, str | None]:
    doc = inspect.getdoc(inspect.unwrap(handler))
    if not doc:
        return None, None
    first, _, rest = doc.partition("\n")
    return first.strip() or None, rest.strip() or None


def _openapi_path(entry: RouteEntry) -> str:
    parts = [s.value if s.converter is None else "{" + s.value + "}" for s in entry.segments]
    return "/" + "/".join(parts)


class _Schemas:
    """Collects types, then generates every schema in one msgspec call (components once)."""

    def __init__(self) -> None:
        self.types: list[Any] = []
        self.slots: list[tuple[dict[str, Any], str, int]] = []
        self.models: dict[str, Any] = {}
        """pydantic models' schemas (and their ``$defs``), by component name."""

    def ref(self, target: dict[str, Any], key: str, annotation: Any) -> None:
        """Fill ``target[key]`` with ``annotation``'s schema once :meth:`finish` runs."""
        self.slots.append((target, key, len(self.types)))
        self.types.append(annotation)

    def finish(self) -> dict[str, Any]:
        if not self.types:
            return {}
        schemas, components = msgspec.json.schema_components(
            self.types, schema_hook=self.hook, ref_template="#/components/schemas/{name}"
        )
        for target, key, index in self.slots:
            target[key] = schemas[index]
        for name, schema in self.models.items():
            components.setdefault(name, schema)
        return dict(sorted(components.items()))

    def hook(self, annotation: Any) -> dict[str, Any]:
        """Schemas for the types msgspec does not know: an uploaded file is a binary string;
        a pydantic model is a component from its own ``model_json_schema()``."""
        if annotation is UploadFile:
            return {"type": "string", "format": "binary"}
        schema_of = _model_schema(annotation)
        if schema_of is None:
            raise NotImplementedError
        name = annotation.__name__
        if name not in self.models:
            schema = dict(schema_of(ref_template="#/components/schemas/{model}"))
            for inner, inner_schema in schema.pop("$defs", {}).items():
                self.models.setdefault(inner, inner_schema)
            self.models[name] = schema
        return {"$ref": f"#/components/schemas/{name}"}


def _model_schema(annotation: Any) -> Callable[..., Any] | None:
    """A pydantic model's ``model_json_schema``, or ``None`` for anything else."""
    schema_of = getattr(pydantic_model(annotation), "model_json_schema", None)
    return schema_of if callable(schema_of) else None


def _schema_probe(annotation: Any) -> dict[str, Any]:
    """Whether a schema can be made: :meth:`_Schemas.hook`'s types, without making them."""
    if annotation is UploadFile or _model_schema(annotation) is not None:
        return {"type": "object"}  # a stand-in (msgspec takes an empty schema for a refusal)
    raise NotImplementedError


def _response_type(entry: RouteEntry, returned: Any) -> Any:
    model = entry.response_model
    if model is not None and (
        not hasattr(model, "model_validate") or _model_schema(model) is not None
    ):
        return model
    if returned is inspect.Parameter.empty or returned is None or returned is type(None):
        return None
    if isinstance(returned, type) and issubclass(returned, Response):
        return None
    try:
        msgspec.json.schema(returned, schema_hook=_schema_probe)
    except (TypeError, ValueError):
        return None
    return returned


def _parameter_object(param: DeclaredParameter, schemas: _Schemas) -> dict[str, Any]:
    item: dict[str, Any] = {"name": param.key, "in": param.source, "required": param.required}
    marker = param.marker
    if marker is not None and marker.description:
        item["description"] = marker.description
    if marker is not None and marker.deprecated:
        item["deprecated"] = True
    schemas.ref(item, "schema", param.annotation)
    if not param.required and param.default is not None:
        try:
            default = msgspec.to_builtins(param.default)
        except (TypeError, ValueError):
            default = None
        if default is not None:
            item["_default"] = default
    return item


def _operation(
    entry: RouteEntry, schemas: _Schemas, used: set[str], security: dict[str, Any]
) -> dict[str, Any] | None:
    options = entry.options
    if not options.get("include_in_schema", True):
        return None
    try:
        plan = plan_for(entry, websocket=False, injected=_injected_marker)
    except RouteDefinitionError:
        return None  # a route added late with a broken signature answers 500: not documented
    declared = plan.parameters if plan is not None else []
    returned = plan.return_annotation if plan is not None else _return_annotation(entry.handler)
    summary, description = _docstring(entry.handler)
    op: dict[str, Any] = {}
    if options.get("tags"):
        op["tags"] = list(options["tags"])
    op["summary"] = options.get("summary") or summary or _title(entry.handler)
    text = options.get("description") or description
    if text:
        op["description"] = text
    op["operationId"] = options.get("operation_id") or _operation_id(entry, used)
    parameters: list[dict[str, Any]] = []
    covered = {p.key for p in declared if p.source == "path"}
    for seg in entry.segments:
        if seg.converter is not None and seg.value not in covered:
            parameters.append(
                {
                    "name": seg.value,
                    "in": "path",
                    "required": True,
                    "schema": dict(_CONVERTER_SCHEMAS[seg.converter]),
                }
            )
    body: DeclaredParameter | None = None
    for param in declared:
        if param.source in BODY_SOURCES:
            body = param
            continue
        if param.source not in ("path", "query", "header", "cookie"):
            continue
        if param.marker is not None and not param.marker.include_in_schema:
            continue
        parameters.append(_parameter_object(param, schemas))
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        media = getattr(body.marker, "media_type", "application/json")
        content: dict[str, Any] = {}
        op["requestBody"] = {"required": body.required, "content": {media: content}}
        if body.marker is not None and body.marker.description:
            op["requestBody"]["description"] = body.marker.description
        schemas.ref(content, "schema", body.annotation)
    status = options.get("status_code", 200)
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": _REASONS.get(status, "Successful Response")}
    response_type = _response_type(entry, returned)
    if response_type is not None and status not in (204, 304):
        media_content: dict[str, Any] = {}
        success["content"] = {"application/json": media_content}
        schemas.ref(media_content, "schema", response_type)
    responses[str(status)] = success
    if declared:
        responses["422"] = {
            "description": "Validation Error",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/ValidationError"}}
            },
        }
    for code, extra in (options.get("responses") or {}).items():
        if isinstance(extra, Mapping):
            responses[str(code)] = dict(extra)
        else:
            documented: dict[str, Any] = {"description": _REASONS.get(int(code), "Response")}
            typed: dict[str, Any] = {}
            documented["content"] = {"application/json": typed}
            schemas.ref(typed, "schema", extra)
            responses[str(code)] = documented
    op["responses"] = responses
    if options.get("deprecated"):
        op["deprecated"] = True
    schemes = _security_of(entry)
    if schemes:
        security.update(schemes)
        op["security"] = [{name: []} for name in schemes]
    return op


def _injected_marker(param: inspect.Parameter) -> bool:
    # Without asking an injector: a marker object carrying a ``factory`` (fastware-di's
    # Depends) is injected, so the document never lists it as a query parameter.
    candidates = [param.default, *getattr(param.annotation, "__metadata__", ())]
    return any(callable(getattr(c, "factory", None)) for c in candidates)


def _return_annotation(handler: Any) -> Any:
    try:
        return inspect.signature(handler, eval_str=True).return_annotation
    except Exception:
        return inspect.Parameter.empty


def _title(handler: Any) -> str:
    name = getattr(handler, "__name__", "handler")
    return name.replace("_", " ").strip().capitalize() or "Handler"


def build_openapi(
    entries: Iterable[RouteEntry],
    *,
    title: str,
    version: str,
    description: str | None = None,
    servers: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``entries`` (HTTP routes).

    Raises:
        FastwareError: a route declares a type msgspec cannot describe.
    """
    schemas = _Schemas()
    used: set[str] = set()
    security: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for entry in entries:
        try:
            op = _operation(entry, schemas, used, security)
        except (TypeError, ValueError) as exc:
            raise FastwareError(
                f"OpenAPI: route {entry.method} {entry.path} cannot be described: {exc}"
            ) from None
        if op is None:
            continue
        item = paths.setdefault(_openapi_path(entry), {})
        item.setdefault(entry.method.lower(), op)
    try:
        components = schemas.finish()
    except (TypeError, ValueError) as exc:
        raise FastwareError(f"OpenAPI: a declared type cannot be described: {exc}") from None
    _defaults_into_schemas(paths)
    if any("422" in op["responses"] for item in paths.values() for op in item.values()):
        components["ValidationError"] = _VALIDATION_ERROR
    info: dict[str, Any] = {"title": title, "version": version}
    if description:
        info["description"] = description
    document: dict[str, Any] = {"openapi": OPENAPI_VERSION, "info": info}
    if servers:
        document["servers"] = servers
    document["paths"] = paths
    comps: dict[str, Any] = {}
    if components:
        comps["schemas"] = components
    if security:
        comps["securitySchemes"] = {name: dict(s) for name, s in sorted(security.items())}
    if comps:
        document["components"] = comps
    return document


def _defaults_into_schemas(paths: dict[str, dict[str, Any]]) -> None:
    for item in paths.values():
        for op in item.values():
            for param in op.get("parameters", ()):
                default = param.pop("_default", None)
                if default is not None and "$ref" not in param["schema"]:
                    param["schema"] = {**param["schema"], "default": default}


# -- serving it --------------------------------------------------------------------------------

_ASSETS = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
_INIT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: %s,
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
"""
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>%(title)s</title>
<link rel="stylesheet" href="%(base)s/swagger-ui.css">
<link rel="icon" type="image/png" href="%(base)s/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="%(base)s/swagger-ui-bundle.js"></script>
<script src="%(base)s/init.js"></script>
</body>
</html>
"""


def swagger_ui_directory() -> FilePath | None:
    """Where the installed Swagger UI assets are, or ``None`` without ``fastware-core[docs]``."""
    try:
        bundle = importlib.import_module("swagger_ui_bundle")
    except ImportError:
        return None
    path = FilePath(str(bundle.swagger_ui_path))
    return path if (path / "swagger-ui-bundle.js").is_file() else None


class _DocsAssets:
    """The docs page, its initialiser and the Swagger UI files, read once."""

    def __init__(self, directory: FilePath | None, title: str, base: str, spec_url: str) -> None:
        self.directory = directory
        self.base = base
        self.page = _PAGE % {"title": html.escape(title), "base": html.escape(base)}
        self.init = (_INIT % json.dumps(spec_url)).encode()
        self.files: dict[str, bytes] = {}

    async def page_handler(self, request: Any) -> Response:
        if self.directory is None:
            return _missing_assets()
        return HTMLResponse(self.page, headers={"cache-control": "no-cache"})

    async def asset_handler(self, name: str, request: Any) -> Response:
        if name == "init.js":
            return BytesResponse(
                self.init, "text/javascript; charset=utf-8", headers={"cache-control": "no-cache"}
            )
        content_type = _ASSETS[name]
        if self.directory is None:
            return _missing_assets()
        data = self.files.get(name)
        if data is None:
            # Read once, in a thread: the bundle is a few MiB and the loop must not wait on it.
            data = await asyncio.to_thread((self.directory / name).read_bytes)
            self.files[name] = data
        return BytesResponse(data, content_type, headers={"cache-control": "public, max-age=86400"})


def _missing_assets() -> Response:
    body = encode_json(
        {
            "detail": "The docs page needs Swagger UI's files: "
            "pip install 'fastware-core[docs]' (the fastware package includes it)"
        }
    )
    return BytesResponse(body, "application/json", 501)


async def _openapi_handler(dispatcher: Dispatcher, request: Any) -> Response:
    return BytesResponse(dispatcher.openapi_bytes(), "application/json")


def docs_entries(dispatcher: Dispatcher, taken: Callable[[str], bool]) -> list[RouteEntry]:
    """The routes serving the document and the docs page (those whose path no user route
    takes)."""
    config = dispatcher.config
    entries: list[RouteEntry] = []
    hidden: Any = {"include_in_schema": False}
    spec = config.openapi_path
    if spec is not None and not taken(spec):
        entries.append(
            RouteEntry(
                "GET",
                parse_path(spec),
                partial(_openapi_handler, dispatcher),
                None,
                None,
                options=hidden,
            )
        )
    docs = config.docs_path
    if docs is not None and spec is not None and not taken(docs):
        base = "/" + docs.strip("/")
        assets = _DocsAssets(
            swagger_ui_directory(), f"{dispatcher.openapi_title()} - docs", base, spec
        )
        entries.append(
            RouteEntry("GET", parse_path(docs), assets.page_handler, None, None, options=hidden)
        )
        # One literal route per file: an app of literal routes keeps a router without a
        # parameter tree, so paths no route takes never walk one.
        entries.extend(
            RouteEntry(
                "GET",
                parse_path(f"{base}/{name}"),
                partial(assets.asset_handler, name),
                None,
                None,
                options=hidden,
            )
            for name in ("init.js", *_ASSETS)
        )
    return entries
