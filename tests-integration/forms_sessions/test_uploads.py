"""Uploads through both doors of a real Granian: a 200 MiB file streams to disk while the
worker's memory stays flat, limits answer 413, a broken body answers 400."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import INTERFACES, StartGranian

BOUNDARY = "----fwintegration0123456789"
MiB = 1024 * 1024
UPLOAD_MIB = 200
MEMORY_BUDGET_MIB = 100


def _rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


class PeakMemory:
    """Polls a process's resident memory in a thread and keeps the highest value seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_kib(self.pid))
            time.sleep(0.01)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_kib(self.pid))


def _multipart(size_mib: int, digest: hashlib._Hash) -> tuple[Iterator[bytes], int]:
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="note"\r\n\r\nbig one\r\n'
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    block = bytes(range(256)) * (MiB // 256)

    def chunks() -> Iterator[bytes]:
        yield head
        for index in range(size_mib):
            chunk = index.to_bytes(4, "big") + block[4:]
            digest.update(chunk)
            yield chunk
        yield tail

    return chunks(), len(head) + size_mib * MiB + len(tail)


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_200_mib_upload_streams_to_disk_with_flat_memory(
    start_granian: StartGranian, interface: str
) -> None:
    server = start_granian(interface)
    with httpx.Client(base_url=server.url, timeout=180) as http:
        for _ in range(5):
            idle = http.get("/memory").json()
        pid = idle["pid"]
        idle_kib = _rss_kib(pid)
        digest = hashlib.sha256()
        body, length = _multipart(UPLOAD_MIB, digest)
        with PeakMemory(pid) as memory:
            started = time.monotonic()
            response = http.post(
                "/upload",
                content=body,
                headers={
                    "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                    "content-length": str(length),
                },
            )
            seconds = time.monotonic() - started
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["fields"] == {"note": "big one"}
    [upload] = data["files"]
    assert upload["size"] == UPLOAD_MIB * MiB
    assert upload["sha256"] == digest.hexdigest()
    assert upload["in_memory"] is False
    growth_mib = (memory.peak - idle_kib) / 1024
    print(
        f"\n{interface}: {UPLOAD_MIB} MiB upload in {seconds:.2f} s; worker RSS idle "
        f"{idle_kib / 1024:.1f} MiB, peak {memory.peak / 1024:.1f} MiB (+{growth_mib:.1f} MiB)"
    )
    assert growth_mib < MEMORY_BUDGET_MIB, f"worker memory grew by {growth_mib:.1f} MiB"


@pytest.mark.parametrize("interface", INTERFACES)
def test_chunked_uploads_limits_and_broken_bodies(
    start_granian: StartGranian, interface: str
) -> None:
    server = start_granian(interface)
    content_type = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    with httpx.Client(base_url=server.url, timeout=30) as http:
        digest = hashlib.sha256()
        body, _ = _multipart(3, digest)
        chunked = http.post("/upload", content=body, headers=content_type)  # no Content-Length
        assert chunked.status_code == 200, chunked.text
        assert chunked.json()["files"][0]["sha256"] == digest.hexdigest()

        big, _ = _multipart(1, hashlib.sha256())
        too_big = http.post("/upload/small", content=b"".join(big), headers=content_type)
        assert too_big.status_code == 413
        assert "too large" in too_big.json()["detail"]

        cut = b"".join(_multipart(1, hashlib.sha256())[0])[: -len(BOUNDARY) - 8]
        broken = http.post("/upload", content=cut, headers=content_type)
        assert broken.status_code == 400
        assert "Malformed multipart" in broken.json()["detail"]

        # the worker is still healthy
        assert http.get("/").json() == {"ok": True}


@pytest.mark.parametrize("interface", INTERFACES)
def test_a_client_leaving_mid_upload_is_a_clean_400(
    start_granian: StartGranian, interface: str
) -> None:
    server = start_granian(interface)
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n'
    ).encode()
    request = (
        "POST /upload HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {10 * MiB}\r\n\r\n"
    ).encode()
    with socket.create_connection((server.host, server.port), timeout=10) as sock:
        sock.sendall(request + head + b"x" * (2 * MiB))
        time.sleep(0.3)
    with httpx.Client(base_url=server.url, timeout=10) as http:
        deadline = time.monotonic() + 10
        outcomes: list[str] = []
        while time.monotonic() < deadline:
            outcomes = http.get("/outcomes").json()
            if outcomes:
                break
            time.sleep(0.1)
        assert outcomes, "the upload never finished"
        assert outcomes[0].startswith("400 "), outcomes
        assert http.get("/").json() == {"ok": True}
    assert "Traceback" not in server.logs()
