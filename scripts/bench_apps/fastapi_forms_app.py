"""FastAPI on the upload endpoint (``POST /upload``), written as its docs show, and
``GET /plaintext`` (the driver's readiness probe).

Run: ``granian --interface asgi --working-dir scripts/bench_apps fastapi_forms_app:app``.
"""

from __future__ import annotations

from fastapi import FastAPI, UploadFile
from fastapi.responses import PlainTextResponse

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/plaintext", response_class=PlainTextResponse)
async def plaintext() -> str:
    """``GET /plaintext``."""
    return "Hello, World!"


@app.post("/upload")
async def upload(file: UploadFile) -> dict[str, object]:
    """Parse the form, read the file, answer its name and size."""
    data = await file.read()
    return {"filename": file.filename, "size": len(data)}
