"""X-Hub-Signature (FACTS.md §7): sha1= + HMAC-SHA1 of the raw body, keyed with the client
secret; the receiver's check and the sandbox's signing are written apart and must agree."""

from __future__ import annotations

import hashlib
import hmac

from intercom_sandbox import webhooks as sandbox_webhooks
from intercom_webhooks.signature import sign, verify

SECRET = b"key"
BODY = b"The quick brown fox jumps over the lazy dog"
# RFC 2104 HMAC-SHA1 of BODY keyed with "key" (the classic test vector).
EXPECTED = "sha1=de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"


def test_sign_is_hmac_sha1_of_the_raw_body() -> None:
    assert sign(SECRET, BODY) == EXPECTED
    assert sandbox_webhooks.sign(SECRET, BODY) == EXPECTED
    assert "sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest() == EXPECTED


def test_verify_accepts_only_the_exact_signature_of_those_bytes() -> None:
    assert verify(SECRET, BODY, EXPECTED)
    assert verify(SECRET, BODY, EXPECTED.upper().replace("SHA1=", "sha1="))  # hex case
    assert not verify(SECRET, BODY + b" ", EXPECTED)  # one byte more
    assert not verify(b"other", BODY, EXPECTED)  # another app's secret
    assert not verify(SECRET, BODY, EXPECTED[5:])  # no sha1= prefix
    assert not verify(SECRET, BODY, "sha256=" + EXPECTED[5:])
    assert not verify(SECRET, BODY, None)
    assert not verify(SECRET, BODY, "")
    assert not verify(SECRET, BODY, "sha1=" + "é" * 40)  # not ASCII: no crash, just invalid


def test_a_reserialised_body_does_not_verify() -> None:
    """Why the check runs on raw bytes: the same JSON re-encoded is other bytes."""
    raw = b'{"id": "notif_1", "topic": "ping"}'
    compact = b'{"id":"notif_1","topic":"ping"}'
    assert not verify(SECRET, compact, sign(SECRET, raw))
