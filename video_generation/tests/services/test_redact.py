"""The one redaction rule (services/redact.py) on realistic provider errors and log lines."""

from __future__ import annotations

import io
import json
import logging
import string
import uuid

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from video_generation.downloads import Artifact, make_link_token
from video_generation.services import redact as redact_module
from video_generation.services.redact import REDACTED, RedactingFormatter, configured_secrets, readable, redact

SIGNATURE = "0a1b2c3d4e5f60718293a4b5c6d7e8f9" * 8
UNSIGNED_URL = "https://storage.googleapis.com/bucket/jobs/x/final.mp4"
SIGNED_URL = (
    f"{UNSIGNED_URL}?X-Goog-Algorithm=GOOG4-RSA-SHA256"
    "&X-Goog-Credential=sa%40p.iam.gserviceaccount.com%2F20261128%2Fauto%2Fstorage%2Fgoog4_request"
    "&X-Goog-Date=20261128T000000Z&X-Goog-Expires=604800&X-Goog-SignedHeaders=host"
    f"&X-Goog-Signature={SIGNATURE}"
)
GOOGLE_ACCESS_TOKEN = "ya29.a0AfB_byC1d2E3f4G5h6I7j8K9l0M1n2O3p4Q5r6S7t8U9v0W1x2Y3z4"
OPAQUE_TOKEN = "hgt-Qm9sZC1yYW5kb20tdG9rZW4tdmFsdWU1NzQ2OTI"  # no known shape: only rule (e) can find it
JOB_ID = "3f2b6c1e-8d4a-4c1b-9e2f-5a6b7c8d9e0f"
OPERATION = (
    "projects/p/locations/us-central1/publishers/google/models/veo-3.1-generate-001"
    "/operations/1234567890123456789"
)
JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJpc3MiOiJzYUBwLmlhbS5nc2VydmljZWFjY291bnQuY29tIiwiZXhwIjoxNzY0MjkwMDAwfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
)
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"
PEM_BLOCK = f"-----BEGIN PRIVATE KEY-----\n{PEM_BODY}\nMwIDAQABAoIBAQCq2j5Zg==\n-----END PRIVATE KEY-----"
URL_SAFE = string.ascii_letters + string.digits + "-_"


# --- (a) URLs -------------------------------------------------------------------------------------------------


def test_it_removes_the_signature_from_a_veo_error_quoting_a_v4_signed_url_and_keeps_the_bucket_path():
    body = json.dumps(
        {
            "error": {
                "code": 400,
                "message": f"Unable to read the input video {SIGNED_URL}: only gs:// URIs are supported",
                "status": "INVALID_ARGUMENT",
            }
        }
    )

    out = redact(body)

    assert SIGNATURE[:8] not in out
    assert "X-Goog-Signature" not in out
    assert "gserviceaccount" not in out
    error = json.loads(out)["error"]
    assert error["message"] == (
        f"Unable to read the input video {UNSIGNED_URL}?[redacted]: only gs:// URIs are supported"
    )
    assert error["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f'"{SIGNED_URL}"', f'"{UNSIGNED_URL}?[redacted]"'),
        (f"'{SIGNED_URL}'", f"'{UNSIGNED_URL}?[redacted]'"),
        (f'{{"uri": "{SIGNED_URL}", "size": 12}}', f'{{"uri": "{UNSIGNED_URL}?[redacted]", "size": 12}}'),
        (f"(see {SIGNED_URL})", f"(see {UNSIGNED_URL}?[redacted])"),
        (f"download {SIGNED_URL}.", f"download {UNSIGNED_URL}?[redacted]."),
        (f"{SIGNED_URL}, then retry", f"{UNSIGNED_URL}?[redacted], then retry"),
        (f"<{SIGNED_URL}>", f"<{UNSIGNED_URL}?[redacted]>"),
        (f"[{SIGNED_URL}]", f"[{UNSIGNED_URL}?[redacted]]"),
        ("https://app.example.com/done#access_token=abc123&state=x", "https://app.example.com/done#[redacted]"),
        ("HTTP://API.HEYGEN.COM/v2/video?API_KEY=abc123", "HTTP://API.HEYGEN.COM/v2/video?[redacted]"),
    ],
)
def test_it_keeps_scheme_host_and_path_of_a_url_wherever_it_stands_and_redacts_its_query(text, expected):
    assert redact(text) == expected


def test_it_redacts_a_query_whose_ampersands_are_json_escaped():
    text = r'{"url": "https://storage.googleapis.com/b/o.mp4?X-Goog-Date=1\u0026X-Goog-Signature=0a1b2c3d"}'

    assert redact(text) == r'{"url": "https://storage.googleapis.com/b/o.mp4?[redacted]"}'


def test_it_redacts_user_and_password_in_a_urls_authority():
    assert redact("GET https://alice:pw-Secret-123@cdn.example.com/a.mp4 failed") == (
        "GET https://[redacted]@cdn.example.com/a.mp4 failed"
    )


def test_it_redacts_the_token_of_our_own_signed_media_link_and_keeps_the_file_name():
    token = make_link_token(uuid.uuid4(), Artifact.VIDEO, expires_at=2_000_000_000)
    link = f"http://testserver/media/{token}/final.mp4"

    out = redact(f"compose uploaded {link}")

    assert out == "compose uploaded http://testserver/media/[redacted]/final.mp4"
    assert token[:12] not in out and token[-12:] not in out


# --- (b) credential parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Goog-Signature=0a1b2c3d4e5f", "X-Goog-Signature=[redacted]"),
        ("x-goog-credential: sa@p.iam.gserviceaccount.com", "x-goog-credential: [redacted]"),
        ("X-Amz-Signature=fe9c0a1b&X-Amz-Date=20261128", "X-Amz-Signature=[redacted]&X-Amz-Date=20261128"),
        ("Signature=Zm9vYmFy; Path=/", "Signature=[redacted]; Path=/"),
        ("sig=Zm9vYmFy", "sig=[redacted]"),
        ("token=Zm9vYmFy", "token=[redacted]"),
        ("access_token=Zm9vYmFy&expires_in=3599", "access_token=[redacted]&expires_in=3599"),
        ('{"refresh_token": "1//0gZm9vYmFy", "scope": "cloud"}', '{"refresh_token": "[redacted]", "scope": "cloud"}'),
        ("id_token: Zm9vYmFy", "id_token: [redacted]"),
        ('{"api_key": "two words"}', '{"api_key": "[redacted]"}'),
        ("apikey=Zm9vYmFy", "apikey=[redacted]"),
        ('{"apiKey": "Zm9vYmFy"}', '{"apiKey": "[redacted]"}'),
        ("key=Zm9vYmFy", "key=[redacted]"),
        ('"client_secret": "GOCSPX-Zm9vYmFy"', '"client_secret": "[redacted]"'),
        ("password: hunter2", "password: [redacted]"),
        ("{'password': 'correct horse'}", "{'password': '[redacted]'}"),
        ("secret=Zm9vYmFy", "secret=[redacted]"),
        ("x-api-key: Zm9vYmFy", "x-api-key: [redacted]"),
        ("authorization=Zm9vYmFy", "authorization=[redacted]"),
        ("HEYGEN_API_KEY=Zm9vYmFy", "HEYGEN_API_KEY=[redacted]"),
        ("X-GOOG-SIGNATURE = Zm9vYmFy", "X-GOOG-SIGNATURE = [redacted]"),
        (r'{\"token\": \"Zm9vYmFy\"}', r'{\"token\": \"[redacted]\"}'),
    ],
)
def test_it_redacts_the_value_of_a_credential_named_parameter_and_keeps_its_name(text, expected):
    assert redact(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Goog-Signature%3D0a1b2c3d4e5f", "X-Goog-Signature%3D[redacted]"),
        (
            "next=https%3A%2F%2Fstorage.googleapis.com%2Fbucket%2Fx.mp4%3FX-Goog-Date%3D20261128T000000Z"
            "%26X-Goog-Signature%3D0a1b2c3d%26X-Goog-SignedHeaders%3Dhost",
            "next=https%3A%2F%2Fstorage.googleapis.com%2Fbucket%2Fx.mp4%3FX-Goog-Date%3D20261128T000000Z"
            "%26X-Goog-Signature%3D[redacted]%26X-Goog-SignedHeaders%3Dhost",
        ),
        ("cb%3Fkey%3DZm9vYmFy%26a%3D1", "cb%3Fkey%3D[redacted]%26a%3D1"),
        ("x%2526X-Goog-Signature%253D0a1b2c3d", "x%2526X-Goog-Signature%253D[redacted]"),
    ],
)
def test_it_redacts_a_url_encoded_signature(text, expected):
    assert redact(text) == expected


# --- (c) Authorization schemes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Authorization: Bearer {GOOGLE_ACCESS_TOKEN}", "Authorization: Bearer [redacted]"),
        ("Authorization: Bearer abc", "Authorization: Bearer [redacted]"),
        (
            "curl -H 'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b' /api/jobs/",
            "curl -H 'Authorization: Token [redacted]' /api/jobs/",
        ),
        ('{"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', '{"Authorization": "Basic [redacted]"}'),
        (f"sent bearer {OPAQUE_TOKEN} to HeyGen", "sent bearer [redacted] to HeyGen"),
        ("retrying with Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "retrying with Token [redacted]"),
    ],
)
def test_it_keeps_the_auth_scheme_and_redacts_the_credential(text, expected):
    assert redact(text) == expected


# --- (d) secret shapes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [
        GOOGLE_ACCESS_TOKEN,
        JWT,
        "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q",
        "sk_live_51HxAbCdEfGhIjKlMnOpQrStUv",
        "sk_test_51HxAbCdEfGhIjKlMnOpQrStUv",
        "rk_live_51HxAbCdEfGhIjKlMnOpQrStUv",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "vsk_live_7fJ2kQ9xLm3pRt8vWz1yBc4d",
        "vsk_test_7fJ2kQ9xLm3pRt8vWz1yBc4d",
    ],
)
def test_it_redacts_a_well_known_secret_shape_wherever_it_appears(secret):
    body = json.dumps({"error": {"message": f"invalid key {secret} (was it revoked?)", "type": "invalid_request"}})

    out = redact(body)

    assert secret[-10:] not in out
    assert json.loads(out)["error"]["message"] == "invalid key [redacted] (was it revoked?)"


def test_it_leaves_a_word_that_merely_contains_a_stripe_prefix_alone():
    assert redact("task_test_results saved") == "task_test_results saved"


@pytest.mark.parametrize(
    "text",
    [
        f"could not load the key:\n{PEM_BLOCK}\nafter the key",
        json.dumps({"private_key": PEM_BLOCK + "\n", "client_email": "sa@p.iam.gserviceaccount.com"}),
        f"-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----",
        f"truncated: -----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\nMwIDAQAB",
    ],
)
def test_it_redacts_a_pem_private_key_block_complete_escaped_or_cut_short(text):
    out = redact(text)

    assert PEM_BODY[:12] not in out
    assert "BEGIN" not in out
    assert REDACTED in out


# --- (e) known secrets and their fragments --------------------------------------------------------------------


def test_it_redacts_a_twenty_character_prefix_of_a_bearer_token_passed_as_a_secret():
    message = f"HeyGen rejected the credential prefix '{OPAQUE_TOKEN[:20]}' (truncated)"

    out = redact(message, secrets=[OPAQUE_TOKEN])

    assert out == "HeyGen rejected the credential prefix '[redacted]' (truncated)"


def test_it_redacts_a_suffix_of_a_secret():
    out = redact(f"...{OPAQUE_TOKEN[-9:]} is not valid", secrets=[OPAQUE_TOKEN])

    assert out == "...[redacted] is not valid"


def test_it_redacts_a_middle_fragment_of_a_secret_glued_to_other_characters():
    fragment = OPAQUE_TOKEN[10:22]

    out = redact(f"sessionid={JOB_ID}|x{fragment}y", secrets=[OPAQUE_TOKEN])

    assert fragment not in out
    assert out.endswith(f"|x{REDACTED}y")


@pytest.mark.parametrize("lead", ["", "#", "##", "###", "####", "#####", "HeyGen quoted: "])
def test_it_finds_an_eight_character_fragment_at_every_offset_of_the_secret_and_of_the_text(lead):
    fragments = [OPAQUE_TOKEN[start : start + 8] for start in range(len(OPAQUE_TOKEN) - 7)]

    outputs = [redact(lead + fragment, secrets=[OPAQUE_TOKEN]) for fragment in fragments]

    assert outputs == [lead + REDACTED] * len(fragments)


def test_it_redacts_a_secret_quoted_url_encoded():
    secret = "svc@p.iam/Zk29sQm8vR4t"

    out = redact("rejected svc%40p.iam%2FZk29sQm8vR4t", secrets=[secret])

    assert out == "rejected [redacted]"


def test_it_accepts_a_single_secret_passed_as_a_bare_string():
    assert redact(f"prefix {OPAQUE_TOKEN[:12]}", secrets=OPAQUE_TOKEN) == "prefix [redacted]"


def test_it_ignores_secrets_shorter_than_eight_characters():
    assert redact("the job failed", secrets=["job", "failed"]) == "the job failed"


def test_it_redacts_the_heygen_api_key_configured_in_settings(settings):
    settings.HEYGEN_API_KEY = "hg_Zk29sQm8vR4tYp1LwX7nB3cF6dJ0eH5a"

    out = redact('{"code": 401, "message": "API key hg_Zk29sQm8vR4tYp1... is not valid"}')

    assert out == '{"code": 401, "message": "API key [redacted]... is not valid"}'


def test_it_redacts_the_test_heygen_key_from_conftest_wherever_it_appears():
    assert redact("HeyGen refused test-heygen-key") == "HeyGen refused [redacted]"


def test_it_redacts_the_secret_key_and_the_webhook_secret(settings):
    settings.SECRET_KEY = "k3$9f!q2zv@x7m#p0w^r8t&b5n*c1d(e6g)h4j-l_s=y+u"
    settings.WEBHOOK_SECRET = "whk_7Tq2Lp9Xr4Vm8Nc1Bz6Ks3Dj0Hf5Gw"

    out = redact("signing with q2zv@x7m#p0w^r8t and whk_7Tq2Lp9X failed")

    assert out == "signing with [redacted] and [redacted] failed"


def test_configured_secrets_reads_the_settings_at_call_time(settings):
    settings.HEYGEN_API_KEY = "first-key-0123456789"
    assert "first-key-0123456789" in configured_secrets()
    assert redact("saw first-key-0123456789") == "saw [redacted]"

    settings.HEYGEN_API_KEY = "second-key-0123456789"

    assert "first-key-0123456789" not in configured_secrets()
    assert redact("saw second-key-0123456789") == "saw [redacted]"


def test_configured_secrets_adds_listed_settings_and_fallbacks_and_skips_empty_and_missing_ones(settings, monkeypatch):
    monkeypatch.setattr(redact_module, "SECRET_SETTING_NAMES", ("STRIPE_SECRET_KEY", "NOT_A_SETTING"))
    settings.STRIPE_SECRET_KEY = "stripe-secret-0123456789"
    settings.SECRET_KEY_FALLBACKS = ["old-secret-key-0123456789"]
    settings.WEBHOOK_SECRET = ""

    secrets = configured_secrets()

    assert secrets == (settings.SECRET_KEY, "old-secret-key-0123456789", "test-heygen-key", "stripe-secret-0123456789")
    assert redact("stripe-secret-0123 and old-secret-key") == "[redacted] and [redacted]"


# --- What must survive ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        OPERATION,
        f"job {JOB_ID}: step veo:c1:s2 submitted, operation {OPERATION}",
        "gs://bucket/jobs/3f2b6c1e/veo-out/1234/sample_0.mp4",
        "HTTP 503",
        "B-roll extension (scene 2) failed at Google Veo: the safety filter blocked the video (HTTP 400)",
        "The service is currently unavailable. Please try again later.",
        "retrying in 12.5 s after 3 of 5 attempts; 42 credits used, cost 1.25 USD, 1920x1080 at 30 fps",
        "https://us-central1-aiplatform.googleapis.com/v1/" + OPERATION,
        "Token expired; basic information; the bearer token is missing",
        f"Idempotency-Key: {JOB_ID}",
        "/srv/video_saas/var/media/jobs/3f2b6c1e/final.mp4",
        'File "/srv/video_saas/video_generation/pipeline/machine.py", line 208, in run_step',
    ],
)
def test_ordinary_text_survives_unchanged(text):
    assert redact(text) == text


# --- Idempotence and properties -------------------------------------------------------------------------------

SAMPLES = [
    SIGNED_URL,
    f"Authorization: Bearer {GOOGLE_ACCESS_TOKEN}",
    f"see ({SIGNED_URL}), then {JWT}.",
    PEM_BLOCK,
    '{"client_secret": "GOCSPX-Zm9vYmFy", "token": null}',
    "X-Goog-Signature%3D0a1b2c3d%26x%3D1",
    f"prefix {OPAQUE_TOKEN[:20]} and test-heygen-key",
    "https://alice:pw@cdn.example.com/a.mp4?x=1#frag",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_redacting_twice_changes_nothing(text):
    once = redact(text, secrets=[OPAQUE_TOKEN])

    assert once != text
    assert redact(once, secrets=[OPAQUE_TOKEN]) == once


@pytest.mark.parametrize(
    "text",
    ["Authorization: Bearer [redacted]", '{"token": "[redacted]"}', "https://h.example/p?[redacted]", "key=[redacted]"],
)
def test_already_redacted_text_is_left_as_it_is(text):
    assert redact(text) == text


TRICKY_PIECES = st.sampled_from(
    [
        "https://", "http://h.example/p", "?", "#", "&", "=", ":", "%3D", "%26", "\\u0026", '"', "'", "\\", " ",
        "(", ")", ".", ",", "[", "]", "[redacted]", "Bearer ", "token", "Token ", "key", "sig", "X-Goog-Signature",
        "password", "/media/", "a:b", "ya29.", "eyJ", "sk_live_", "abc123XYZ", "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----", "@", "\n", OPAQUE_TOKEN[:10], OPAQUE_TOKEN[8:30],
    ]
)  # fmt: skip


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.lists(st.one_of(TRICKY_PIECES, st.text(max_size=6)), max_size=20).map("".join))
def test_redacting_any_mix_of_tricky_pieces_twice_changes_nothing(text):
    once = redact(text, secrets=[OPAQUE_TOKEN])

    assert redact(once, secrets=[OPAQUE_TOKEN]) == once


SURROUNDINGS = st.one_of(st.text(max_size=30), st.text(alphabet=URL_SAFE + " :/?&=\"'.%", max_size=30))


@hypothesis_settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(secret=st.text(alphabet=URL_SAFE, min_size=16, max_size=64), data=st.data())
def test_no_eight_character_window_of_a_secret_survives_whatever_surrounds_it(secret, data):
    start = data.draw(st.integers(0, len(secret) - 8))
    end = data.draw(st.integers(start + 8, len(secret)))
    text = data.draw(SURROUNDINGS) + secret[start:end] + data.draw(SURROUNDINGS) + secret + data.draw(SURROUNDINGS)

    out = redact(text, secrets=[secret])

    assert not [secret[i : i + 8] for i in range(len(secret) - 7) if secret[i : i + 8] in out]


# --- RedactingFormatter ---------------------------------------------------------------------------------------


@pytest.fixture
def log_to_string(request):
    """A real logger with a handler that writes through RedactingFormatter into a StringIO."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger(f"test_redact.{request.node.name}")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_the_formatter_redacts_a_signed_url_passed_as_a_log_argument(log_to_string):
    logger, stream = log_to_string

    logger.warning("could not fetch %s (HTTP %d)", SIGNED_URL, 403)

    assert stream.getvalue() == f"WARNING {logger.name} could not fetch {UNSIGNED_URL}?[redacted] (HTTP 403)\n"


def test_the_formatter_redacts_a_token_in_a_logged_exception_and_keeps_the_traceback(log_to_string):
    logger, stream = log_to_string

    try:
        raise RuntimeError(f"token refresh failed: Authorization: Bearer {GOOGLE_ACCESS_TOKEN}")
    except RuntimeError:
        logger.exception("poll of step %s raised", "veo:c1:s2")

    out = stream.getvalue()
    assert out.startswith(f"ERROR {logger.name} poll of step veo:c1:s2 raised\nTraceback (most recent call last):")
    assert "RuntimeError: token refresh failed: Authorization: Bearer [redacted]" in out
    assert GOOGLE_ACCESS_TOKEN[5:25] not in out


def test_the_formatter_includes_and_redacts_stack_info(log_to_string, settings):
    logger, stream = log_to_string
    settings.HEYGEN_API_KEY = "hg_Zk29sQm8vR4tYp1LwX7nB3cF6dJ0eH5a"

    logger.info("calling HeyGen with %s", settings.HEYGEN_API_KEY, stack_info=True)

    out = stream.getvalue()
    assert out.startswith(f"INFO {logger.name} calling HeyGen with [redacted]\nStack (most recent call last):")
    assert "Zk29sQm8" not in out


def test_the_formatter_withholds_the_line_rather_than_raise_when_redaction_fails(log_to_string, monkeypatch):
    logger, stream = log_to_string

    def broken_redact(text, *, secrets=()):
        raise ValueError("bug in redaction")

    monkeypatch.setattr(redact_module, "redact", broken_redact)

    logger.warning("could not fetch %s", SIGNED_URL)

    assert stream.getvalue() == f"[log line withheld: redaction failed] logger={logger.name}\n"


def test_the_formatter_withholds_a_record_whose_arguments_do_not_format():
    record = logging.LogRecord(
        "video_generation.pipeline", logging.INFO, __file__, 1, "%d jobs for %s", ("not-a-number", SIGNED_URL), None
    )

    line = RedactingFormatter().format(record)

    assert line == "[log line withheld: redaction failed] logger=video_generation.pipeline"


def test_readable_text_is_redacted_on_one_line_and_cut_with_an_ellipsis():
    text = "failed at\nhttps://cdn.example.com/a.mp4?Signature=abc123456789   because " + "x" * 600
    shown = readable(text, limit=80)
    assert len(shown) == 80 and shown.endswith("…")
    assert "\n" not in shown and "abc123456789" not in shown
    assert readable("short message", limit=80) == "short message"
