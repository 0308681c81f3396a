"""In-process test clients that drive an app through its ASGI or RSGI door.

No third-party dependency: requests never touch a socket, the lifespan runs on enter and
exit, and streamed responses are read chunk by chunk, so a test can read the first events
of a never-ending stream and then disconnect.
"""

from __future__ import annotations

from ._client import AsyncTestClient
from ._exchange import AsyncWebSocketSession
from ._responses import SentRequest, TestResponse, TestStreamResponse, WebSocketDenied
from ._rsgi import RSGIProtocolError
from ._sync import TestClient, WebSocketTestSession
from ._url import TestURL

__all__ = (
    "AsyncTestClient",
    "AsyncWebSocketSession",
    "RSGIProtocolError",
    "SentRequest",
    "TestClient",
    "TestResponse",
    "TestStreamResponse",
    "TestURL",
    "WebSocketDenied",
    "WebSocketTestSession",
)
