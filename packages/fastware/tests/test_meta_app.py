"""``fastware.create_app`` is fastware-core's app with fastware-di wired in."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from fastware import AppConfig, Depends, Request, Router, TestClient, create_app
from fastware_core import FastwareError
from fastware_core import create_app as create_core_app
from fastware_di import DependencyResolver


class Clock:
    """A type only a dependency can provide."""


def real_clock() -> str:
    return "real"


def fake_clock() -> str:
    return "fake"


def make_router() -> Router:
    router = Router()

    @router.get("/time", deps={"by_name": real_clock})
    async def time(
        request: Request, by_name: str, by_marker: Annotated[str, Depends(real_clock)]
    ) -> dict[str, str]:
        return {"by_name": by_name, "by_marker": by_marker}

    return router


def test_routes_with_dependencies_work_out_of_the_box() -> None:
    with TestClient(create_app(make_router())) as client:
        assert client.get("/time").json() == {"by_name": "real", "by_marker": "real"}


def test_fastware_core_alone_refuses_them() -> None:
    with pytest.raises(FastwareError, match="declares deps"):
        create_core_app(make_router())


@pytest.mark.parametrize("through", ["kwargs", "config"])
def test_the_overrides_dict_is_kept_by_reference(through: str) -> None:
    overrides: dict[Any, Any] = {}
    if through == "kwargs":
        app = create_app(make_router(), dependency_overrides=overrides)
    else:
        app = create_app(make_router(), AppConfig(dependency_overrides=overrides))
    with TestClient(app) as client:
        overrides[real_clock] = fake_clock  # changed after create_app
        assert client.get("/time").json() == {"by_name": "fake", "by_marker": "fake"}
        del overrides[real_clock]
        with app.dependency_overrides({real_clock: fake_clock}):
            assert client.get("/time").json()["by_name"] == "fake"
        assert client.get("/time").json()["by_name"] == "real"


def test_each_app_gets_its_own_resolver() -> None:
    router = make_router()
    one, two = create_app(router), create_app(router)
    assert one.dependency_overrides is not two.dependency_overrides
    with TestClient(one) as first, TestClient(two) as second:
        one.dependency_overrides[real_clock] = fake_clock
        assert first.get("/time").json()["by_name"] == "fake"
        assert second.get("/time").json()["by_name"] == "real"


def test_a_given_injector_is_used_as_is() -> None:
    resolver = DependencyResolver({real_clock: fake_clock})
    app = create_app(make_router(), injector=resolver)
    assert app.dependency_overrides is resolver.overrides
    with TestClient(app) as client:
        assert client.get("/time").json()["by_marker"] == "fake"


def test_broken_dependencies_fail_at_create_app() -> None:
    router = Router()

    async def broken(request: Request, missing: Clock) -> None:  # pragma: no cover
        pass

    @router.get("/uses")
    async def uses(request: Request, value: Annotated[str, Depends(real_clock)]) -> str:
        return value  # pragma: no cover

    router.add_route("GET", "/needs", broken, deps={"other": real_clock})
    # (``missing: str`` would be a query parameter; no request value can be a Clock.)
    with pytest.raises(FastwareError, match=r"GET /needs.*'missing'"):
        create_app(router)


def test_the_fastware_package_brings_the_multipart_parser_and_sessions() -> None:
    from fastware.middleware import SessionMiddleware
    from fastware_core.forms import UploadFile

    router = Router()

    @router.post("/upload")
    async def upload(request: Request) -> dict[str, Any]:
        form = await request.form()
        file = form["f"]
        assert isinstance(file, UploadFile)
        request.session["uploaded"] = file.filename
        return {"size": file.size, "note": form["note"]}

    body = (
        b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n'
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nabc\r\n'
        b"--b--\r\n"
    )
    app = create_app(router, middleware=[SessionMiddleware(secret_key="meta-secret-0123456789")])
    with TestClient(app) as client:
        response = client.post(
            "/upload", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
        )
        assert response.json() == {"size": 3, "note": "hi"}
        assert response.headers["set-cookie"].startswith("session=")
