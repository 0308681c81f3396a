"""bcrypt hashing: the 72-byte rule, non-ASCII, malformed hashes, rehash, off the loop."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from fastware_auth import (
    InvalidPasswordError,
    PasswordTooLongError,
    hash_password,
    hash_password_async,
    needs_rehash,
    verify_password,
    verify_password_async,
)


def test_hash_and_verify() -> None:
    hashed = hash_password("correct horse", rounds=4)
    assert hashed.startswith("$2b$04$")
    assert verify_password("correct horse", hashed)
    assert not verify_password("wrong horse", hashed)


def test_the_default_cost_is_12() -> None:
    assert hash_password("x" * 8).startswith("$2b$12$")


def test_exactly_72_bytes_works_and_73_is_refused() -> None:
    hashed = hash_password("a" * 72, rounds=4)
    assert verify_password("a" * 72, hashed)
    with pytest.raises(PasswordTooLongError, match="73 bytes"):
        hash_password("a" * 73, rounds=4)
    assert issubclass(PasswordTooLongError, ValueError)  # 0.6.3 raised ValueError


def test_the_limit_counts_utf8_bytes() -> None:
    accented = "é" * 36  # 72 bytes
    hashed = hash_password(accented, rounds=4)
    assert verify_password(accented, hashed)
    with pytest.raises(PasswordTooLongError):
        hash_password("é" * 37, rounds=4)  # 74 bytes, 37 characters


def test_non_ascii_passwords_work() -> None:
    for password in ("пароль-секрет", "密码密码", "🔑🔑 emoji", "naïve café"):
        hashed = hash_password(password, rounds=4)
        assert verify_password(password, hashed)
        assert not verify_password(password + "x", hashed)


def test_invalid_passwords_are_refused_when_hashing_and_never_match() -> None:
    hashed = hash_password("fine", rounds=4)
    for bad in ("", "\udc80abc", "nul\x00byte", b"\xff\xfe"):
        with pytest.raises(InvalidPasswordError):
            hash_password(bad, rounds=4)
        assert verify_password(bad, hashed) is False
    assert verify_password("a" * 100, hashed) is False  # over-long: no match, no raise


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "not a hash",
        "$2b$04$short",
        "$argon2id$v=19$m=65536,t=3,p=4$abc",
        "é" * 60,
        b"\xff" * 60,
    ],
)
def test_a_malformed_stored_hash_is_no_match_and_is_logged(
    stored: str | bytes, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fastware.auth"):
        assert verify_password("anything", stored) is False
    assert caplog.records, "the malformed hash was not logged"
    assert "anything" not in caplog.text


def test_needs_rehash() -> None:
    cheap = hash_password("x", rounds=4)
    assert needs_rehash(cheap, rounds=12)
    assert not needs_rehash(cheap, rounds=4)
    assert needs_rehash("garbage")
    with pytest.raises(ValueError, match="rounds"):
        needs_rehash(cheap, rounds=99)


@pytest.mark.anyio
async def test_async_variants_do_not_block_the_event_loop() -> None:
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    hashed = await hash_password_async("pässword", rounds=12)
    assert await verify_password_async("pässword", hashed)
    elapsed = time.perf_counter() - started
    stop = True
    await task
    # ~0.5 s of bcrypt: a blocked loop would tick once or twice
    assert ticks >= elapsed / 0.01 * 0.5


@pytest.mark.anyio
async def test_async_hash_refuses_bad_passwords_before_the_thread() -> None:
    with pytest.raises(PasswordTooLongError):
        await hash_password_async("x" * 80)
