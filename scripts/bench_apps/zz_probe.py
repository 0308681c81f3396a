import os
V = os.environ.get("PROBE", "")
BODY = b'{"message":"Hello, World!"}'
H1 = [("content-type", "application/json")]
class App:
    async def __rsgi__(self, scope, protocol):
        if scope.proto != "http":
            return
        path = scope.path
        method = scope.method
        if "headers" in V:
            h = scope.headers
            h.get("content-length"); "transfer-encoding" in h
        if "idget" in V:
            scope.headers.get("x-request-id")
        if "version" in V:
            scope.http_version == "2"
        if "cl" in V:
            protocol.response_bytes(200, [("content-type", "application/json"), ("content-length", "27")], BODY)
        elif "h3" in V:
            protocol.response_bytes(200, [("content-type", "application/json"), ("x-content-type-options", "nosniff"), ("x-request-id", "0123456789abcdef0123456789abcdef")], BODY)
        else:
            protocol.response_bytes(200, H1, BODY)
app = App()
