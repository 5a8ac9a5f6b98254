"""The one exception type the emulator's layers raise to answer a request with a gateway-style error."""


class ApiError(Exception):
    """An OpenAPI error: rendered by the server as the gateway's JSON error body with this HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
