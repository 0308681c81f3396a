"""Token revocation: make a JWT invalid before it expires (logout, "log out everywhere").

A store records two things, each only as long as a token it concerns can still be valid:

- revoked token ids (``jti``), until the token's ``exp``;
- per-user cut-offs: every token of that user issued at or before the cut-off is revoked
  (after a password change, or "log out on all devices").

:class:`MemoryRevocationStore` keeps them in this process: with several workers a token
revoked through one worker stays valid on the others, so use
:class:`~fastware_auth.RedisRevocationStore` there (the server warns at startup).
"""

from __future__ import annotations

import heapq
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ("MemoryRevocationStore", "RevocationStore")


@runtime_checkable
class RevocationStore(Protocol):
    """Where revoked tokens are recorded (the seam for shared backends)."""

    async def revoke(self, jti: str, expires_at: float) -> None:
        """Revoke the token ``jti`` until ``expires_at`` (its ``exp``, epoch seconds)."""
        ...

    async def revoke_subject(self, subject: str, issued_before: float, until: float) -> None:
        """Revoke every token of ``subject`` issued at or before ``issued_before``; the
        record may be forgotten after ``until`` (when all such tokens have expired)."""
        ...

    async def is_revoked(self, jti: str | None, subject: str | None, issued_at: float) -> bool:
        """Whether a token with these claims was revoked."""
        ...


class MemoryRevocationStore:
    """Revocations in this process's memory; entries are dropped once their token expired.

    Memory is bounded by the number of tokens revoked within one token lifetime.
    """

    fastware_process_local = "the in-memory token revocation store (MemoryRevocationStore)"
    """Tells ``fastware serve --workers N`` to warn: revocations are not shared."""

    def __init__(self) -> None:
        self._tokens: dict[str, float] = {}
        self._subjects: dict[str, tuple[float, float]] = {}  # subject -> (cut-off, until)
        self._expiry: list[tuple[float, int, str]] = []  # (until, kind, key) min-heap
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        expiry = self._expiry
        while expiry and expiry[0][0] <= now:
            until, kind, key = heapq.heappop(expiry)
            if kind == 0:
                if self._tokens.get(key) == until:
                    del self._tokens[key]
            else:
                entry = self._subjects.get(key)
                if entry is not None and entry[1] == until:
                    del self._subjects[key]

    async def revoke(self, jti: str, expires_at: float) -> None:
        """Revoke ``jti`` until ``expires_at``."""
        now = time.time()
        until = float(expires_at)
        with self._lock:
            self._purge(now)
            if until <= now:
                return
            if self._tokens.get(jti, 0.0) >= until:
                return
            self._tokens[jti] = until
            heapq.heappush(self._expiry, (until, 0, jti))

    async def revoke_subject(self, subject: str, issued_before: float, until: float) -> None:
        """Revoke every token of ``subject`` issued at or before ``issued_before``."""
        now = time.time()
        with self._lock:
            self._purge(now)
            previous = self._subjects.get(subject)
            cutoff = float(issued_before)
            end = float(until)
            if previous is not None:
                cutoff = max(cutoff, previous[0])
                end = max(end, previous[1])
            self._subjects[subject] = (cutoff, end)
            heapq.heappush(self._expiry, (end, 1, subject))

    async def is_revoked(self, jti: str | None, subject: str | None, issued_at: float) -> bool:
        """Whether the token is revoked (by id, or by its subject's cut-off)."""
        return self.is_revoked_now(jti, subject, issued_at)

    def is_revoked_now(self, jti: str | None, subject: str | None, issued_at: float) -> bool:
        """:meth:`is_revoked`, synchronously."""
        now = time.time()
        if jti is not None:
            until = self._tokens.get(jti)
            if until is not None and until > now:
                return True
        if subject is not None:
            entry = self._subjects.get(subject)
            if entry is not None and entry[1] > now and issued_at <= entry[0]:
                return True
        return False

    def __len__(self) -> int:
        """How many revocations are recorded (expired ones are dropped on writes)."""
        return len(self._tokens) + len(self._subjects)
