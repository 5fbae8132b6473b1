"""Graph API errors as Meta returns them, synchronously (HTTP body) and in status webhooks.

Codes, titles and HTTP statuses follow Meta's error code reference:
https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
Titles are part of ``message`` (Meta has no separate title property in API responses).
"""

import secrets
from typing import Any

ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"

# Codes the simulator produces, with Meta's title for each.
INVALID_PARAMETER = 100
ACCESS_TOKEN_INVALID = 190
UNKNOWN_PATH = 2500
THROUGHPUT_LIMIT = 130429
UNDELIVERABLE = 131026
OUTSIDE_SERVICE_WINDOW = 131047
PARAMETER_VALUE_INVALID = 131009
MEDIA_ERROR = 131053
PAIR_RATE_LIMIT = 131056
TEMPLATE_PARAMETER_COUNT = 132000
TEMPLATE_NOT_FOUND = 132001
TEMPLATE_PAUSED = 132015
TEMPLATE_DISABLED = 132016

TITLES: dict[int, str] = {
    INVALID_PARAMETER: "Invalid parameter",
    ACCESS_TOKEN_INVALID: "Access token has expired",
    UNKNOWN_PATH: "Unknown path components",
    THROUGHPUT_LIMIT: "Rate limit hit",
    UNDELIVERABLE: "Message undeliverable",
    OUTSIDE_SERVICE_WINDOW: "Re-engagement message",
    PARAMETER_VALUE_INVALID: "Parameter value is not valid",
    MEDIA_ERROR: "Media upload error",
    PAIR_RATE_LIMIT: "(Business Account, Consumer Account) pair rate limit hit",
    TEMPLATE_PARAMETER_COUNT: "Number of parameters does not match the expected number of params",
    TEMPLATE_NOT_FOUND: "Template name does not exist in the translation",
    TEMPLATE_PAUSED: "Template is Paused",
    TEMPLATE_DISABLED: "Template is Disabled",
}

DETAILS: dict[int, str] = {
    THROUGHPUT_LIMIT: (
        "Message failed to send because there were too many messages sent from this phone "
        "number in a short period of time."
    ),
    UNDELIVERABLE: "Message Undeliverable.",
    OUTSIDE_SERVICE_WINDOW: (
        "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number."
    ),
    PAIR_RATE_LIMIT: (
        "Message failed to send because there were too many messages sent from this phone "
        "number to the same phone number in a short period of time."
    ),
}


def new_fbtrace_id() -> str:
    """An opaque per-response trace id, shaped like Meta's."""
    return "A" + secrets.token_urlsafe(16)


class GraphError(Exception):
    """A refused Graph API request, rendered exactly like Meta's error body."""

    def __init__(
        self,
        code: int,
        details: str = "",
        *,
        http_status: int = 400,
        error_type: str = "OAuthException",
        message: str | None = None,
        subcode: int | None = None,
    ) -> None:
        self.code = code
        self.details = details or DETAILS.get(code, "")
        self.http_status = http_status
        self.error_type = error_type
        self.message = message or f"(#{code}) {TITLES.get(code, 'Error')}"
        self.subcode = subcode
        super().__init__(f"{self.message}: {self.details}")

    def to_body(self) -> dict[str, Any]:
        """The JSON body of the HTTP error response."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.details}
        # Meta sends error_subcode only for some errors (e.g. 100/33 unknown object).
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = new_fbtrace_id()
        return {"error": error}


def webhook_error(code: int, details: str = "") -> dict[str, Any]:
    """An entry of ``statuses[].errors`` in a failed-status webhook."""
    title = TITLES.get(code, "Error")
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or DETAILS.get(code, title)},
        "href": ERROR_CODES_URL,
    }


def invalid_parameter(details: str) -> GraphError:
    """Malformed or missing request parameters (Graph's generic #100)."""
    return GraphError(INVALID_PARAMETER, details)


def invalid_value(details: str) -> GraphError:
    """A parameter that is present but breaks a Cloud API rule (lengths, counts, ids)."""
    return GraphError(PARAMETER_VALUE_INVALID, details)


def unknown_object(object_id: str, method: str = "post") -> GraphError:
    """Graph's answer for an id that does not exist or is not accessible with this token."""
    return GraphError(
        INVALID_PARAMETER,
        message=(
            f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot "
            "be loaded due to missing permissions, or does not support this operation. Please "
            "read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
        ),
        error_type="GraphMethodException",
        subcode=33,
    )


def access_token_error(*, is_missing: bool) -> GraphError:
    """HTTP 401 with OAuth code 190, for a missing or wrong bearer token."""
    message = (
        "An access token is required to request this resource."
        if is_missing
        else "Invalid OAuth access token - Cannot parse access token"
    )
    return GraphError(ACCESS_TOKEN_INVALID, message=message, http_status=401)
