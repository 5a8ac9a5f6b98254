"""STS AssumeRole on the emulator's own port, so cross-account credentials are exercised end to end.

``alibabacloud_credentials`` (1.0.12) hard-codes ``tea_request.protocol = 'https'`` but Tea's compose_url drops
the protocol when the host already starts with a scheme, and the default port 80 adds no ``:port``. So
``Config(type='ram_role_arn', ..., sts_endpoint='http://127.0.0.1:PORT')`` (that is, ``emu.url``) sends
``GET http://127.0.0.1:PORT?Action=AssumeRole&...`` here in plain HTTP; a bare ``127.0.0.1:PORT`` would
attempt TLS and fail.
"""

import re
import secrets
import time
from typing import Mapping, Sequence

from .errors import ApiError
from .signature import Key, Keys

VERSION = "2015-04-01"
ROLE_ARN = re.compile(r"acs:ram::(\d+):role/(.+)")


def assume_role(params: Mapping[str, str], keys: Keys, roles: Sequence[str]) -> dict:
    """Issue temporary credentials for a seeded role; they become accepted STS keys carrying the role."""
    role, session = params.get("RoleArn"), params.get("RoleSessionName")
    for name, value in (("RoleArn", role), ("RoleSessionName", session)):
        if not value:
            raise ApiError(400, "MissingParameter", f'The input parameter "{name}" is not supplied.')
    try:
        duration = int(params.get("DurationSeconds") or 3600)
    except ValueError:
        duration = 0
    if not 900 <= duration <= 43200:
        raise ApiError(400, "InvalidParameter.DurationSeconds", "DurationSeconds must be 900 to 43200.")
    if role not in roles:
        raise ApiError(404, "EntityNotExist.Role", f"The role not exists: {role}.")
    expires = int(time.time()) + duration
    key = Key("STS." + secrets.token_hex(12), secrets.token_urlsafe(24), secrets.token_urlsafe(48), role, expires)
    keys.add(key)
    account, role_name = ROLE_ARN.fullmatch(role).groups()
    return {
        "AssumedRoleUser": {"Arn": f"acs:ram::{account}:assumed-role/{role_name}/{session}",
                            "AssumedRoleId": f"{secrets.randbelow(10 ** 18)}:{session}"},
        "Credentials": {"AccessKeyId": key.access_key_id, "AccessKeySecret": key.access_key_secret,
                        "SecurityToken": key.security_token,
                        "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))},
    }
