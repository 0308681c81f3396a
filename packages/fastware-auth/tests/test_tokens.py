"""JWT creation and verification: 0.6.3 signatures, strict checks, rotation, bad input."""

from __future__ import annotations

import base64
import json
import time
import warnings
from datetime import timedelta
from typing import Any

import jwt
import pytest

from fastware_auth import (
    AuthConfigurationError,
    KeySet,
    SigningKey,
    TokenVerifier,
    create_token,
    verify_token,
)

OTHER_SECRET = "another-secret-0123456789-abcdefghijkl"
SECRET = "test-secret-0123456789-abcdefghijklmnop"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, Any], payload: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join(
        (_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()), _b64(signature))
    )


def test_the_0_6_3_signature_makes_a_30_day_hs256_token() -> None:
    token = create_token("ada", "admin", SECRET)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    claims = verify_token(token, SECRET)
    assert claims is not None
    assert claims["sub"] == "ada"
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 720 * 3600
    assert isinstance(claims["jti"], str)
    assert len(claims["jti"]) >= 16


def test_expires_hours_and_lifetime() -> None:
    short = verify_token(create_token("ada", "user", SECRET, expires_hours=1), SECRET)
    assert short is not None
    assert short["exp"] - short["iat"] == 3600
    shorter = verify_token(
        create_token("ada", "user", SECRET, lifetime=timedelta(minutes=5)), SECRET
    )
    assert shorter is not None
    assert shorter["exp"] - shorter["iat"] == 300


def test_every_token_gets_its_own_jti() -> None:
    first = verify_token(create_token("ada", "user", SECRET), SECRET)
    second = verify_token(create_token("ada", "user", SECRET), SECRET)
    assert first is not None
    assert second is not None
    assert first["jti"] != second["jti"]


def test_extra_claims_issuer_and_audience() -> None:
    token = create_token(
        "ada", "user", SECRET, claims={"tenant": 7}, issuer="https://id.example", audience="api"
    )
    claims = verify_token(token, SECRET, issuer="https://id.example", audience="api")
    assert claims is not None
    assert claims["tenant"] == 7
    assert verify_token(token, SECRET, issuer="https://evil.example", audience="api") is None
    assert verify_token(token, SECRET, issuer="https://id.example", audience="other") is None
    # configured audience but a token without one: refused
    plain = create_token("ada", "user", SECRET)
    assert verify_token(plain, SECRET, audience="api") is None


def test_registered_claims_cannot_be_smuggled_through_claims() -> None:
    with pytest.raises(ValueError, match="exp"):
        create_token("ada", "user", SECRET, claims={"exp": 9999999999})


def test_a_token_without_exp_is_invalid() -> None:
    token = jwt.encode({"sub": "ada", "role": "admin"}, SECRET, algorithm="HS256")
    assert verify_token(token, SECRET) is None


def test_expired_and_not_yet_valid_tokens_are_invalid() -> None:
    expired = create_token("ada", "user", SECRET, lifetime=60, now=time.time() - 3600)
    assert verify_token(expired, SECRET) is None
    future = create_token("ada", "user", SECRET, not_before=time.time() + 600)
    assert verify_token(future, SECRET) is None
    # leeway tolerates a small skew
    soon = create_token("ada", "user", SECRET, not_before=time.time() + 5)
    assert verify_token(soon, SECRET) is None
    assert verify_token(soon, SECRET, leeway=30) is not None


def test_alg_none_and_algorithm_confusion_are_refused() -> None:
    payload = {"sub": "ada", "role": "admin", "exp": int(time.time()) + 600}
    assert verify_token(_forge({"alg": "none", "typ": "JWT"}, payload), SECRET) is None
    assert verify_token(_forge({"alg": "None"}, payload), SECRET) is None
    hs512 = jwt.encode(payload, SECRET * 2, algorithm="HS512")
    assert verify_token(hs512, SECRET * 2) is None  # pinned to HS256


def test_wrong_key_is_invalid() -> None:
    token = create_token("ada", "admin", OTHER_SECRET)
    assert verify_token(token, SECRET) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c",
        "....",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ",  # truncated
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.",
        "\u00e9\u00e9\u00e9.\u00e9.\u00e9",
        "\udcff.x.y",
        "x" * 100_000,
        "Bearer xyz",
        _forge({"alg": "HS256"}, {"sub": "ada", "exp": "tomorrow"}),
        _forge({"alg": "HS256", "kid": ["list"]}, {"sub": "ada"}),
        _b64(b"[1,2]") + "." + _b64(b"[]") + ".sig",
        _b64(b"\xff\xfe") + "." + _b64(b"{}") + ".sig",
    ],
)
def test_malformed_tokens_are_none_never_an_exception(token: str) -> None:
    assert verify_token(token, SECRET) is None


def test_non_string_tokens_are_none() -> None:
    verifier = TokenVerifier(SECRET)
    assert verifier.verify(None) is None
    assert verifier.verify(b"bytes") is None
    assert verifier.verify(12) is None


def test_numeric_claims_of_the_wrong_type_are_refused() -> None:
    for exp in (True, "1", [1], 1e400):
        token = jwt.encode({"sub": "ada", "exp": exp}, SECRET, algorithm="HS256")
        assert verify_token(token, SECRET) is None


def test_missing_or_short_secret_is_a_configuration_error() -> None:
    with pytest.raises(AuthConfigurationError, match="missing"):
        create_token("ada", "user", None)  # type: ignore[arg-type]
    with pytest.raises(AuthConfigurationError, match="at least 32"):
        create_token("ada", "user", "short")
    with pytest.raises(AuthConfigurationError, match="at least 32"):
        verify_token("a.b.c", "short")
    with pytest.raises(AuthConfigurationError, match="not supported"):
        SigningKey(SECRET, algorithm="RS256")
    with pytest.raises(AuthConfigurationError, match="HS512 needs at least 64"):
        SigningKey(SECRET, algorithm="HS512")
    assert isinstance(AuthConfigurationError("x"), ValueError)


def test_no_pyjwt_key_length_warning_escapes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert verify_token(create_token("ada", "user", SECRET), SECRET) is not None


def test_key_rotation_signs_with_the_newest_and_verifies_with_any() -> None:
    old = SigningKey(OTHER_SECRET, kid="2025-01")
    new = SigningKey(SECRET, kid="2025-02")
    old_token = create_token("ada", "user", KeySet([old]))
    rotated = KeySet([new, old])
    new_token = create_token("ada", "user", rotated)
    assert jwt.get_unverified_header(new_token)["kid"] == "2025-02"
    assert verify_token(old_token, rotated) is not None
    assert verify_token(new_token, rotated) is not None
    # the old key retired: its tokens stop working
    assert verify_token(old_token, KeySet([new])) is None
    # an unknown kid is refused
    stranger = create_token("ada", "user", SigningKey(SECRET, kid="nope"))
    assert verify_token(stranger, rotated) is None


def test_tokens_without_kid_are_tried_against_every_key() -> None:
    legacy = create_token("ada", "user", OTHER_SECRET)  # 0.6.3 tokens carry no kid
    keys = KeySet([SigningKey(SECRET, kid="new"), SigningKey(OTHER_SECRET)])
    assert verify_token(legacy, keys) is not None


def test_key_sets_refuse_duplicate_ids_and_emptiness() -> None:
    with pytest.raises(AuthConfigurationError, match="share"):
        KeySet([SigningKey(SECRET, kid="a"), SigningKey(OTHER_SECRET, kid="a")])
    with pytest.raises(AuthConfigurationError, match="at least one"):
        KeySet([])


def test_the_secret_is_not_in_reprs() -> None:
    key = SigningKey(SECRET, kid="k")
    assert SECRET not in repr(key)
    assert SECRET not in repr(KeySet([key]))


def test_the_cache_rechecks_expiry() -> None:
    verifier = TokenVerifier(SECRET)
    token = create_token("ada", "user", SECRET, lifetime=1)
    assert verifier.verify(token) is not None
    assert verifier.verify(token) is not None  # from the cache
    time.sleep(1.1)
    assert verifier.verify(token) is None


def test_cached_claims_are_copies() -> None:
    verifier = TokenVerifier(SECRET)
    token = create_token("ada", "user", SECRET)
    first = verifier.verify(token)
    assert first is not None
    first["role"] = "admin"
    again = verifier.verify(token)
    assert again is not None
    assert again["role"] == "user"


def test_the_cache_is_bounded() -> None:
    verifier = TokenVerifier(SECRET, cache_size=10)
    tokens = [create_token(f"u{n}", "user", SECRET) for n in range(50)]
    for token in tokens:
        assert verifier.verify(token) is not None
    assert len(verifier._cache) == 10
    assert all(verifier.verify(token) is not None for token in tokens)


def test_a_forged_token_is_never_served_from_the_cache() -> None:
    verifier = TokenVerifier(SECRET)
    token = create_token("ada", "user", SECRET)
    assert verifier.verify(token) is not None
    head, _payload, signature = token.split(".")
    forged = _b64(json.dumps({"sub": "ada", "role": "admin", "exp": 2**40}).encode())
    tampered = f"{head}.{forged}.{signature}"
    assert verifier.verify(tampered) is None
