"""What both adapters share: one signed call through tea-openapi's generic `call_api` within the deadline, its
answer decoded from its bytes against a typed schema, and paging that always ends.

The generic call signs and sends exactly what the product SDKs' methods send (the same Params; tests compare the
two on the wire) without importing their models (14 MB for 2020-05-18 alone). The SDK is imported when the first
adapter is built, or by `load()` in FC's initializer, never with this module.
"""
from __future__ import annotations

import functools
import time
from typing import Annotated, Callable, Hashable, Iterable, List, Optional, Tuple, TypeVar

import msgspec

from .. import wire
from . import DataWorks, DataWorksError, sdk
from ..pacing import Pacer, Pacing
from ..redact import clean, error_code
from ..retry import MIN_CALL_S, Deadline, NoTimeLeft
from .errors import classify

CONNECT_TIMEOUT_MS, READ_TIMEOUT_MS = 5000, 10000    # per connect / per read; the budget bounds the whole call
EpochMs = Annotated[int, msgspec.Meta(ge=0, le=253_370_764_800_000)]     # 1970 to 9999-01-01


class Answer(msgspec.Struct, kw_only=True):
    """The part of an answer every action has: an explicit `"Success": false` is DataWorks' refusal."""
    RequestId: str = ""
    Success: Optional[bool] = None
    ErrorCode: Optional[str] = None
    ErrorMessage: Optional[str] = None

    def refusal(self) -> Optional[DataWorksError]:
        if self.Success is False:
            return DataWorksError(error_code(self.ErrorCode) or "SuccessFalse",
                                  clean(self.ErrorMessage or "DataWorks answered Success: false", 300),
                                  retryable=True, request_id=clean(self.RequestId, 64) or None, status=200)
        return None


class Acknowledged(Answer, kw_only=True):
    """An answer that must say `"Success": true`, exactly, for the call to count."""
    Success: bool

    def refusal(self) -> Optional[DataWorksError]:
        return super().refusal() if self.Success is not True else None


Decoded = TypeVar("Decoded", bound=Answer)

# Every answer is decoded by a Decoder built at import, never by `msgspec.json.decode(..., type=T)`: msgspec builds a
# type's decoding information on its first use, and two threads doing that at once for the same type crash the
# process (a segfault: FC runs an instance's concurrent requests, and the load bench its functions, as threads).
# A Decoder holds that information complete from the start, and is safe to share (msgspec's thread-safety #402).
ACKNOWLEDGED = msgspec.json.Decoder(Acknowledged)
Item = TypeVar("Item")


class OpenApiAdapter(DataWorks):
    VERSION: str                      # the API version every call names

    @staticmethod
    def load() -> None:
        """Import the SDK (without its async stack: sdk.py) and put its transport under the guard (wire.py)."""
        sdk.load()
        wire.install()

    def __init__(self, endpoint: str, protocol: str, credential, pacing: Optional[Pacing] = None) -> None:
        self.load()
        self._pacing = pacing
        from alibabacloud_tea_openapi.client import Client
        from alibabacloud_tea_openapi.utils_models import Config, OpenApiRequest, Params
        from darabonba.runtime import RuntimeOptions

        # Endpoint always explicit: the SDK's region->endpoint mapping is wrong for some regions and VPC.
        self._client = Client(Config(endpoint=endpoint, protocol=protocol, credential=credential))
        # Built once, read by every call (the SDK never writes them): a warm call rebuilds nothing but its request.
        self._request, self._runtime = OpenApiRequest, RuntimeOptions(connect_timeout=CONNECT_TIMEOUT_MS,
                                                                      read_timeout=READ_TIMEOUT_MS)
        self._params = functools.lru_cache(maxsize=None)(lambda action, method: Params(
            action=action, version=self.VERSION, protocol="HTTPS", pathname="/", method=method, auth_type="AK",
            style="RPC", req_body_type="formData", body_type="byte"))

    def _call(self, action: str, schema: "msgspec.json.Decoder[Decoded]", deadline: Deadline,
              body: Optional[dict] = None, query: Optional[dict] = None, method: str = "POST",
              write: bool = False) -> Decoded:
        """One signed call within the time the deadline leaves; its answer decoded by `schema` (a Decoder built at
        import) and checked. `method` as the product SDK sends the action (the read-only 2024-05-18 listings of
        parents are GETs); `write`: it counts against the quota's writes (a trigger), else its reads."""
        pacer = None if self._pacing is None else self._pacing.write if write else self._pacing.read
        self._paced(pacer, deadline)
        left = deadline.left()
        if left <= 0:
            raise DataWorksError("DeadlineExceeded", "no time was left for the call", retryable=True)
        request = self._request(body=body, query={k: str(v) for k, v in (query or {}).items()})
        with wire.budget(left) as spent:
            try:
                raw = self._client.call_api(self._params(action, method), request, self._runtime)
            except Exception as exc:  # noqa: BLE001 - classify() re-raises what is not the SDK's
                error = classify(exc, spent)
                if pacer is not None and (error.status == 429 or error.code.startswith("Throttling")):
                    pacer.throttled()
                raise error from None
        if raw.get("statusCode") != 200:
            raise bad(f"{action} answered HTTP {raw.get('statusCode')}")
        try:
            answer = schema.decode(raw.get("body") or b"")
        except msgspec.DecodeError as e:
            raise bad(f"{action} answered off its schema: {clean(str(e))}") from None
        refusal = answer.refusal()
        if refusal is not None:
            raise refusal
        answer.RequestId = clean(answer.RequestId, 64)
        return answer


    @staticmethod
    def _paced(pacer: Optional[Pacer], deadline: Deadline) -> None:
        """Wait for this call's slot in the instance's share of the quota; a slot past the deadline is no call."""
        if pacer is None:
            return
        wait = pacer.delay(within=deadline.left() - MIN_CALL_S)
        if wait is None:
            raise NoTimeLeft("the next call's turn under pacing comes after the deadline")
        if wait > 0:
            time.sleep(wait)


def read_pages(action: str, fetch: Callable[[int], Tuple[Optional[int], int, List[Item]]],
               key: Callable[[Item], Hashable], max_pages: int, what: str = "instance") -> Iterable[Item]:
    """Every item of a paged listing: `fetch(n)` gives page n as (its PageNumber, TotalCount, items), `key` an
    item's id (`what` names it). Paging ends at TotalCount or an empty page, and is refused when a page is not the
    one asked for, repeats an item (it does not advance), or the API's own page limit passes. A later page the
    deadline leaves no time for ends the attempt as the deadline does, counted: its first pages were asked."""
    seen = set()
    for page in range(1, max_pages + 1):
        try:
            number, total, items = fetch(page)
        except NoTimeLeft as e:
            raise NoTimeLeft(str(e), called=page > 1) from None
        if number not in (None, page):
            raise bad(f"{action} asked for page {page} answered page {number}")
        for item in items:
            if key(item) in seen:
                raise bad(f"{action} listed {what} {key(item)} twice: its paging does not advance")
            seen.add(key(item))
            yield item
        if not items or len(seen) >= total:
            return
    raise bad(f"{action} paging did not end within {max_pages} pages (TotalCount {total})")


def bad(message: str) -> DataWorksError:
    return DataWorksError("BadResponse", message, retryable=True)
