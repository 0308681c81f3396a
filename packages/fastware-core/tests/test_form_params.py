"""Typed form bodies: ``Annotated[Model, Form()]`` decodes ``request.form()`` (both doors)."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest

from fastware_core import Form, Router, TestClient, create_app
from fastware_core.exceptions import RouteDefinitionError
from fastware_core.forms import UploadFile

BOUNDARY = "----fwformparams"


def multipart(*parts: tuple[str, str, str | None]) -> bytes:
    """``(name, value, filename)`` parts as a multipart body."""
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n{value}\r\n".encode()
    return out + f"--{BOUNDARY}--\r\n".encode()


class Signup(msgspec.Struct):
    name: str
    age: int
    tags: list[str] = []
    newsletter: bool = False


class Upload(msgspec.Struct):
    title: str
    file: UploadFile


@pytest.fixture
def client() -> TestClient:
    router = Router()

    @router.post("/signup")
    async def signup(form: Annotated[Signup, Form()]) -> Signup:
        return form

    @router.post("/upload", status_code=201)
    async def upload(form: Annotated[Upload, Form()]) -> dict[str, object]:
        data = await form.file.read()
        return {"title": form.title, "filename": form.file.filename, "size": len(data)}

    @router.post("/optional")
    async def optional(form: Annotated[Signup | None, Form()] = None) -> dict[str, object]:
        return {"form": None if form is None else form.name}

    return TestClient(create_app(router))


def test_a_urlencoded_form_decodes_into_the_struct(client: TestClient) -> None:
    with client:
        answer = client.post(
            "/signup",
            content=b"name=Ada&age=36&tags=a&tags=b&newsletter=true",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200
    assert answer.json() == {"name": "Ada", "age": 36, "tags": ["a", "b"], "newsletter": True}


def test_a_multipart_form_brings_its_files(client: TestClient) -> None:
    body = multipart(("title", "report", None), ("file", "x" * 5000, "r.txt"))
    with client:
        answer = client.post(
            "/upload",
            content=body,
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    assert answer.status_code == 201
    assert answer.json() == {"title": "report", "filename": "r.txt", "size": 5000}


def test_bad_fields_are_a_422_naming_each_field(client: TestClient) -> None:
    with client:
        wrong = client.post(
            "/signup",
            content=b"name=Ada&age=old",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        missing = client.post(
            "/signup",
            content=b"age=3",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        not_a_file = client.post(
            "/upload",
            content=multipart(("title", "t", None), ("file", "just text", None)),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"] == ["body", "age"]
    assert missing.status_code == 422
    assert missing.json()["detail"] == [
        {"loc": ["body", "name"], "msg": "Field required", "type": "missing"}
    ]
    assert not_a_file.status_code == 422
    assert not_a_file.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_body_that_is_not_a_form_is_a_415(client: TestClient) -> None:
    with client:
        answer = client.post("/signup", json={"name": "Ada", "age": 3})
    assert answer.status_code == 415


def test_an_optional_form_may_be_left_out(client: TestClient) -> None:
    with client:
        assert client.post("/optional").json() == {"form": None}
        sent = client.post(
            "/optional",
            content=b"name=Bo&age=1",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert sent.json() == {"form": "Bo"}


def test_the_openapi_document_shows_the_form_and_its_file() -> None:
    router = Router()

    @router.post("/upload")
    async def upload(form: Annotated[Upload, Form()]) -> None:
        return None

    document = create_app(router).openapi()
    body = document["paths"]["/upload"]["post"]["requestBody"]
    schema = body["content"]["multipart/form-data"]["schema"]
    assert schema == {"$ref": "#/components/schemas/Upload"}
    upload_schema = document["components"]["schemas"]["Upload"]
    assert upload_schema["properties"]["file"] == {"type": "string", "format": "binary"}


def test_a_form_and_a_json_body_on_one_route_is_refused() -> None:
    router = Router()

    @router.post("/both")
    async def both(form: Annotated[Signup, Form()], other: Signup) -> None:
        return None

    with pytest.raises(RouteDefinitionError, match="second body parameter"):
        create_app(router)
