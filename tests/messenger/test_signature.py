"""X-Hub-Signature-256 checks: only an exact sha256 HMAC of the raw bytes is accepted."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from pagedesk.messenger import sign_body, verify_signature
from tests.messenger.fixtures import APP_SECRET, all_fixture_names, load_fixture

BODY = b'{"object":"page","entry":[]}'
SECRET = "s3cr3t-app-secret"
VALID = sign_body(BODY, SECRET)
HEX = VALID.removeprefix("sha256=")


def test_sign_body_is_hmac_sha256_hex_of_the_raw_bytes() -> None:
    expected = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign_body(BODY, SECRET) == f"sha256={expected}"
    assert len(HEX) == 64


def test_valid_signature_verifies() -> None:
    assert verify_signature(BODY, VALID, SECRET)


@pytest.mark.parametrize("header", [None, ""], ids=["missing", "empty"])
def test_missing_header_is_rejected(header: str | None) -> None:
    assert not verify_signature(BODY, header, SECRET)


def test_wrong_digest_is_rejected() -> None:
    wrong = "0" * 64 if HEX != "0" * 64 else "1" * 64
    assert not verify_signature(BODY, f"sha256={wrong}", SECRET)


def test_legacy_sha1_header_alone_is_rejected() -> None:
    sha1 = hmac.new(SECRET.encode(), BODY, hashlib.sha1).hexdigest()
    assert not verify_signature(BODY, f"sha1={sha1}", SECRET)


@pytest.mark.parametrize(
    "header",
    [f" {VALID}", f"{VALID} ", f"{VALID}\n", f"\t{VALID}", f"sha256= {HEX}", f"sha256={HEX} "],
    ids=["leading-space", "trailing-space", "trailing-newline", "leading-tab", "inner", "hex-end"],
)
def test_surrounding_whitespace_is_rejected(header: str) -> None:
    assert not verify_signature(BODY, header, SECRET)


def test_uppercase_hex_is_rejected() -> None:
    # Meta sends lower-case hex; anything else is not what Meta signed.
    assert not verify_signature(BODY, f"sha256={HEX.upper()}", SECRET)


@pytest.mark.parametrize("length", [0, 1, 32, 63])
def test_truncated_hex_is_rejected(length: int) -> None:
    assert not verify_signature(BODY, f"sha256={HEX[:length]}", SECRET)


def test_overlong_hex_is_rejected() -> None:
    assert not verify_signature(BODY, f"{VALID}0", SECRET)


def test_non_hex_digest_is_rejected() -> None:
    assert not verify_signature(BODY, f"sha256={'g' * 64}", SECRET)
    assert not verify_signature(BODY, f"sha256={HEX[:-2]}zz", SECRET)


@pytest.mark.parametrize(
    "header",
    [f"sha512={HEX}", f"SHA256={HEX}", f"sha-256={HEX}", f"sha256:{HEX}", HEX, f"={HEX}"],
    ids=["sha512", "upper-prefix", "dash-prefix", "colon", "no-prefix", "empty-prefix"],
)
def test_wrong_algorithm_prefix_is_rejected(header: str) -> None:
    assert not verify_signature(BODY, header, SECRET)


def test_signature_made_with_a_different_secret_is_rejected() -> None:
    assert not verify_signature(BODY, sign_body(BODY, "another-app-secret"), SECRET)


def test_empty_secret_never_verifies() -> None:
    # Even a "correct" HMAC with an empty key: an unconfigured secret must not pass.
    assert not verify_signature(BODY, sign_body(BODY, ""), "")
    assert not verify_signature(BODY, VALID, "")


def test_body_modified_by_one_byte_is_rejected() -> None:
    for index in (0, len(BODY) // 2, len(BODY) - 1):
        tampered = bytearray(BODY)
        tampered[index] ^= 0x01
        assert not verify_signature(bytes(tampered), VALID, SECRET)
    assert not verify_signature(BODY + b" ", VALID, SECRET)
    assert not verify_signature(BODY[:-1], VALID, SECRET)


def test_non_ascii_body_verifies_only_as_the_escaped_bytes_that_were_signed() -> None:
    fixture = load_fixture("message_non_ascii")
    assert b"\\u00fc" in fixture.raw_body and b"\\ud83d" in fixture.raw_body
    assert verify_signature(fixture.raw_body, fixture.signature, APP_SECRET)

    # The same JSON re-serialised with real UTF-8 characters is different bytes.
    reserialised = json.dumps(
        json.loads(fixture.raw_body), separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert json.loads(reserialised) == json.loads(fixture.raw_body)
    assert not verify_signature(reserialised, fixture.signature, APP_SECRET)


@pytest.mark.parametrize("name", all_fixture_names())
def test_every_fixture_is_signed_over_its_raw_body(name: str) -> None:
    fixture = load_fixture(name)
    assert fixture.headers["Content-Type"] == "application/json"
    assert fixture.headers["User-Agent"] == "facebookexternalua"
    assert fixture.signature == sign_body(fixture.raw_body, APP_SECRET)
    assert verify_signature(fixture.raw_body, fixture.signature, APP_SECRET)
    assert not verify_signature(fixture.raw_body, fixture.signature, "wrong-secret")
