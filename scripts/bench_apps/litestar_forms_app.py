"""Litestar on the upload endpoint (``POST /upload``), written as its docs show, and
``GET /plaintext`` (the driver's readiness probe).

Run: ``granian --interface asgi --working-dir scripts/bench_apps litestar_forms_app:app``.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Litestar, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body


@get("/plaintext", media_type="text/plain")
async def plaintext() -> str:
    """``GET /plaintext``."""
    return "Hello, World!"


@post("/upload", status_code=200)
async def upload(
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)],
) -> dict[str, object]:
    """Parse the form, read the file, answer its name and size."""
    file = data["file"]
    assert isinstance(file, UploadFile)
    content = await file.read()
    return {"filename": file.filename, "size": len(content)}


app = Litestar(route_handlers=[plaintext, upload], openapi_config=None)
