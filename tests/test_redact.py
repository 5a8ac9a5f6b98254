"""The scrubber (redact.py): a secret in any form text can carry it, and anything credential-shaped, is removed;
ordinary text is left alone."""
import base64
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import example, given, settings, strategies as st

from conftest import examples
from dwtrigger.outcomes import Decision
from dwtrigger.redact import MASK, PATTERNS_ONLY, Scrubber

TOKEN = "CAIS+token/with=odd&chars_0123456789"


@pytest.mark.parametrize("encode", [
    lambda s: s, lambda s: quote(s, safe=""), quote, quote_plus,
    lambda s: base64.b64encode(s.encode()).decode(), lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
])
@pytest.mark.parametrize("before, after", [("", ""), ("x", "y"), ("ab", "yz"), ("abc", "")])
def test_every_form_of_a_secret_is_removed_wherever_it_sits(encode, before, after):
    text = "reason: " + encode(before + TOKEN + after) + " (end)"
    scrubbed = Scrubber([TOKEN])(text)
    assert MASK in scrubbed and scrubbed.startswith("reason: ") and scrubbed.endswith(" (end)")
    for form in (TOKEN, quote(TOKEN, safe=""), quote_plus(TOKEN), base64.b64encode(TOKEN.encode()).decode()[4:-4]):
        assert form not in scrubbed


@given(prefix=st.binary(max_size=5), suffix=st.binary(max_size=5))
@settings(max_examples=examples(200))
def test_a_secret_inside_any_base64_blob_is_removed(prefix, suffix):
    blob = base64.b64encode(prefix + TOKEN.encode() + suffix).decode()
    scrubbed = Scrubber([TOKEN])(blob)
    assert base64.b64encode(TOKEN.encode()).decode()[4:-4] not in scrubbed and MASK in scrubbed


@pytest.mark.parametrize("text", [
    "GET /?Action=AssumeRole&SecurityToken=abc%2Bdef&Signature=xyz%3D&Version=2015-04-01",
    "Authorization: ACS3-HMAC-SHA256 Credential=STS.key,SignedHeaders=host;x-acs-date,Signature=0123abcd",
    '{"x-acs-security-token": "tok", "x-acs-accesskey-id": "STS.key"}',
    "headers x-oss-security-token=abc AccessKeySecret: s3cr3t",
])
def test_credential_shaped_text_is_removed_whoever_it_belongs_to(text):
    scrubbed = PATTERNS_ONLY(text)
    for leak in ("abc%2Bdef", "xyz%3D", "STS.key", "0123abcd", "tok", "s3cr3t", "ACS3-HMAC-SHA256"):
        assert leak not in scrubbed, scrubbed


@pytest.mark.parametrize("text", ["no rule matched", "instance 2670926654737820 was WAIT_TRIGGER",
                                  "exports/orders/dt=2026-03-10/_SUCCESS", "Throttling.User: Request was denied"])
def test_ordinary_text_is_left_alone(text):
    assert Scrubber([TOKEN, "STS.fn-role-key"])(text) == text


def test_every_text_field_of_a_decision_is_scrubbed():
    leaky = Decision("failed", "oss", TOKEN, key=f"k/{quote(TOKEN)}", error_code=TOKEN, dataworks_request_id=TOKEN,
                     reason=base64.b64encode(TOKEN.encode()).decode(), attempts=3)
    clean = leaky.scrubbed(Scrubber([TOKEN]))
    assert TOKEN not in repr(clean) and clean.attempts == 3 and clean.outcome == "failed"
    assert {clean.event_id, clean.error_code, clean.dataworks_request_id} == {MASK}
    untouched = Decision("triggered", "oss", "id-1", reason="instance 1 was WAIT_TRIGGER")
    assert untouched.scrubbed(Scrubber([TOKEN])) is untouched


# Text built from the words the patterns and the secret contain, in any case and with the letters re.IGNORECASE
# equates with ASCII ones (İ ı ſ K), so that the regex finds something in a good share of it.
_PIECES = st.sampled_from(["signature", "SIGNATURE", "ſignature", "token", "TOKEN", "tokEn", "credentİal", "credentıal",
                           "access_key_id", "ACCESSKEYID", "authorization", "acs3-hmac-sha256", "HMAC-SHA256",
                           "x-acs-security-token", "=", ":", " ", "\"", "k", "K", "abc", "/", TOKEN,
                           TOKEN.upper(), quote(TOKEN), "Q0FJUyt0b2tlbi93aXRo", "İ", "ı", "ſ"])


@given(st.lists(_PIECES | st.text(max_size=3), max_size=12).map("".join))
@settings(max_examples=examples(500))
def test_the_cue_check_never_skips_text_the_pattern_would_change(text):
    """Scrubber skips its regex for text holding no cue word: that shortcut must never let a match through."""
    for scrubber in (Scrubber([TOKEN]), PATTERNS_ONLY):
        assert scrubber.finds(text) == (scrubber._pattern.search(text) is not None)
        assert scrubber(text) == scrubber._pattern.sub(MASK, text)


@pytest.mark.parametrize("text, leak", [
    ("SessionToken=CAISsession0123", "CAISsession0123"),
    ('{"session_token": "CAISsession4567"}', "CAISsession4567"),
    ("x-oss-security-token:CAISoss89", "CAISoss89"),
    ("sessiontoken = plain-0042", "plain-0042"),
])
def test_session_tokens_in_any_spelling_are_removed(text, leak):
    """Assumed-role tokens we never held, in the spellings SDKs and servers use for them."""
    assert leak not in PATTERNS_ONLY(text) and MASK in PATTERNS_ONLY(text)


@pytest.mark.parametrize("text", [
    "AssumeRole failed: https://sts.cn-shanghai.aliyuncs.com/?SecurityToken=CAIS%2Bsecret&Signature=abc",
    "redirected to http://10.0.0.1:8080/path?AccessKeyId=STS.leak&x=1 and gave up",
    "GET /?Action=AssumeRole&AccessKeyId=STS.leak&Signature=abc HTTP/1.1",
])
def test_server_text_is_kept_without_its_urls(text):
    """A failed AssumeRole quotes its signed URL, token and key included: `clean` keeps the words, not the URL."""
    from dwtrigger.redact import clean

    kept = clean(text)
    assert "<url>" in kept and not any(leak in kept for leak in ("CAIS", "STS.leak", "Signature", "10.0.0.1"))
    assert kept.split("<url>")[0] == text.split("http")[0].split("/?")[0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab:/?. \t\n\x00\u2028é<>'\"="), max_size=40), st.integers(1, 50))
@example("a /?b c", 40)
@example("a b://c d", 40)
@example("a\tb", 40)
def test_clean_takes_its_short_way_only_where_the_long_one_would_change_nothing(text, limit):
    """`clean` returns printable text with no URL in it as it is (cut): the same as reducing URLs and unprintable
    characters first would give, whatever the text."""
    from dwtrigger.redact import _URL, clean

    slow = "".join(c if c.isprintable() else " " for c in _URL.sub("<url>", text))[:limit].strip()
    assert clean(text, limit) == slow
