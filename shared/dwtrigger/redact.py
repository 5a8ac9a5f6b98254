"""Keeping secrets out of everything we write: every field of every decision line, record and raised message.

Two nets. The invocation's own keys are removed in every form text can carry them in: raw, URL-encoded (quote,
quote_plus) and base64 (standard and URL-safe, at each of the three byte alignments a secret can have inside a
longer encoded string). And anything shaped like a credential parameter or header (`Signature=...`,
`SecurityToken=...`, `x-acs-security-token: ...`, an `ACS3-HMAC-SHA256 ...` Authorization value) is removed
whoever's it is: assumed-role keys and signatures are never known to us, but the text that carries them is.
And text a server or transport wrote (`clean`, `error_code`) is cut, stripped of URLs (a failed AssumeRole quotes
its signed URL, token included) and kept to printable characters before it is ever kept.
"""
from __future__ import annotations

import base64
import re
from typing import Iterable, List, Optional
from urllib.parse import quote, quote_plus

MASK = "[redacted]"
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*|/\?[^\s'\"<>]*")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}\Z")
MIN_SECRET = 6            # shorter fragments would mask ordinary words
_SHAPES = (r"(?:ACS3|OSS4)-HMAC-SHA256[^\"'\n]*",                                  # an Authorization value
           r"(?<![A-Za-z0-9])authorization[\"']?\s*[:=]\s*[^\"'\n]*",
           r"(?<![A-Za-z0-9])(?:x-acs-security-token|x-acs-accesskey-id|x-oss-security-token|credential|signature"
           r"|securitytoken|security_token|accesskeysecret|access_key_secret|accesskeyid|access_key_id"
           r"|sessiontoken|session_token)[\"']?\s*[:=]\s*[\"']?[^\s&,;\"'<>]*")


def forms(secret: str) -> List[str]:
    """The ways `secret` can appear in text, longest first."""
    raw = secret.encode("utf-8", "surrogatepass")
    found = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[-(-8 * offset // 6):(8 * (offset + len(raw))) // 6]   # the characters only `raw` decides
        found |= {core, core.replace("+", "-").replace("/", "_")}
    return sorted((f for f in found if len(f) >= MIN_SECRET), key=len, reverse=True)


# Every match of a shape contains one of these words, whatever its case: text without any needs no regex, whose
# case-insensitive alternation costs far more per character than a plain substring search.
_CUES = ("-hmac-sha256", "authorization", "token", "credential", "signature", "access")
# The letters re.IGNORECASE takes for ASCII ones that lower() keeps apart (dotted and dotless I, long s; the Kelvin
# sign lowers to k).
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s"})


class Scrubber:
    """Removes the given secrets (in every form) and every credential-shaped parameter from text."""

    def __init__(self, secrets: Iterable[str] = ()):
        known = sorted({f for s in secrets if s for f in forms(s)}, key=len, reverse=True)
        self._pattern = re.compile("|".join([re.escape(f) for f in known] + list(_SHAPES)), re.IGNORECASE)
        # A secret's forms are ASCII (keys, tokens, their URL and base64 forms); were one not, every text is searched.
        self._cues = _CUES + tuple(f.lower() for f in known) if all(f.isascii() for f in known) else None

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self.finds(text) else text

    def finds(self, text: str) -> bool:
        if self._cues is not None:
            folded = text.translate(_FOLD).lower()
            if not any(cue in folded for cue in self._cues):
                return False
        return self._pattern.search(text) is not None


PATTERNS_ONLY = Scrubber()


def clean(text: str, limit: int = 200) -> str:
    """Server or transport text fit for a log line: URLs reduced to '<url>', printable, cut to `limit`."""
    if text.isprintable() and "://" not in text and "/?" not in text:     # most text (a RequestId): nothing to do
        return text[:limit].strip()
    text = _URL.sub("<url>", text)
    return "".join(c if c.isprintable() else " " for c in text)[:limit].strip()


def error_code(value) -> Optional[str]:
    """An error code as DataWorks writes them (`Throttling.User`), or None for anything else."""
    return value if isinstance(value, str) and value != "None" and _CODE.match(value) else None
