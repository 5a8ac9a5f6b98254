"""Parameter checks as the DataWorks gateway makes them, for both API versions: MissingParameter, InvalidParameter."""

from typing import Collection, Mapping, Optional, Tuple

from .errors import ApiError

_REQUIRED = object()


def required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise ApiError(400, "MissingParameter",
                       f'The input parameter "{name}" that is mandatory for processing this request is not supplied.')
    return value


def integer(params: Mapping[str, str], name: str, default=_REQUIRED) -> Optional[int]:
    """An integer parameter; without a default it is required."""
    if default is not _REQUIRED and params.get(name) in (None, ""):
        return default
    try:
        return int(required(params, name))
    except ValueError:
        raise invalid(name) from None


def choice(params: Mapping[str, str], name: str, allowed: Collection[str], default=None) -> Optional[str]:
    """An optional parameter that takes one of a fixed set of values."""
    value = params.get(name)
    if value in (None, ""):
        return default
    if value not in allowed:
        raise invalid(name)
    return value


def paging(params: Mapping[str, str], max_size: int) -> Tuple[int, int]:
    """(PageNumber, PageSize): defaults 1 and 10, a page size above the API's maximum refused."""
    page, size = integer(params, "PageNumber", 1), integer(params, "PageSize", 10)
    if page < 1:
        raise invalid("PageNumber")
    if not 1 <= size <= max_size:
        raise invalid("PageSize")
    return page, size


def invalid(name: str) -> ApiError:
    return ApiError(400, "InvalidParameter", f'The specified parameter "{name}" is invalid.')
