"""Typed handler parameters (fastware_core.params) beside Depends markers and deps names,
on HTTP and WebSocket routes, through both doors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import msgspec
import pytest

from fastware_core import Query, Request, Router, TestClient, WebSocket, create_app
from fastware_di import DependencyResolver, Depends

DOORS = ("asgi", "rsgi")
EVENTS: list[str] = []


class Note(msgspec.Struct):
    text: str


def get_db() -> Iterator[str]:
    EVENTS.append("open")
    try:
        yield "db"
    finally:
        EVENTS.append("close")


def get_user(request: Request) -> str:
    return request.headers.get("x-user") or "anonymous"


def make_router() -> Router:
    router = Router()

    @router.post("/notes/{note_id:int}")
    async def save(
        note_id: int,
        note: Note,
        db: Annotated[str, Depends(get_db)],
        user: Annotated[str, Depends(get_user)],
        draft: bool = False,
    ) -> dict[str, Any]:
        return {"id": note_id, "text": note.text, "db": db, "user": user, "draft": draft}

    @router.get("/by-name/{item}", deps={"db": get_db})
    async def by_name(request: Request, item: str, db: str, limit: int = 3) -> dict[str, Any]:
        return {"item": item, "db": db, "limit": limit, "path": request.path}

    @router.get("/only-injected")
    async def only_injected(user: Annotated[str, Depends(get_user)]) -> str:
        return user

    @router.ws("/ws/{room}")
    async def room(
        websocket: WebSocket,
        room: str,
        db: Annotated[str, Depends(get_db)],
        since: Annotated[int, Query(ge=0)] = 0,
    ) -> None:
        await websocket.accept()
        await websocket.send_json({"room": room, "db": db, "since": since})
        await websocket.close()

    return router


@pytest.mark.parametrize("door", DOORS)
def test_typed_parameters_and_dependencies_together(door: str) -> None:
    EVENTS.clear()
    app = create_app(make_router(), injector=DependencyResolver())
    with TestClient(app, door=door) as client:
        saved = client.post("/notes/5?draft=1", json={"text": "hi"}, headers={"x-user": "ann"})
        assert saved.json() == {"id": 5, "text": "hi", "db": "db", "user": "ann", "draft": True}
        assert EVENTS == ["open", "close"]
        assert client.get("/by-name/pen?limit=7").json() == {
            "item": "pen",
            "db": "db",
            "limit": 7,
            "path": "/by-name/pen",
        }
        assert client.get("/only-injected", headers={"x-user": "bo"}).json() == "bo"
        with client.websocket_connect("/ws/lobby?since=4") as socket:
            assert socket.receive_json() == {"room": "lobby", "db": "db", "since": 4}


@pytest.mark.parametrize("door", DOORS)
def test_invalid_parameters_answer_422_and_dependencies_are_cleaned_up(door: str) -> None:
    EVENTS.clear()
    app = create_app(make_router(), injector=DependencyResolver())
    with TestClient(app, door=door) as client:
        answer = client.post("/notes/5?draft=maybe", json={"text": 3})
    assert answer.status_code == 422
    assert [p["loc"] for p in answer.json()["detail"]] == [["body", "text"], ["query", "draft"]]
    # Dependencies are resolved first, then the request's values are read: the refusal is
    # thrown into the generator like a handler's error, so its cleanup runs.
    assert EVENTS == ["open", "close"]


def test_overrides_apply_to_typed_routes() -> None:
    app = create_app(make_router(), injector=DependencyResolver())
    with TestClient(app) as client, app.dependency_overrides({get_user: lambda: "fake"}):
        assert client.get("/only-injected").json() == "fake"
