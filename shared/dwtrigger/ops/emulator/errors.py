"""The exceptions the emulator's layers raise to answer a request other than with an action's plain result."""


class ApiError(Exception):
    """An OpenAPI error: rendered by the server as the gateway's JSON error body with this HTTP status."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class NoEffect(Exception):
    """An accepted request that changed nothing: answered 200 with `body`; `code` is recorded in Emulator.calls
    only, never sent, so tests can count such requests."""

    def __init__(self, body: dict, code: str):
        super().__init__(code)
        self.body = body
        self.code = code
