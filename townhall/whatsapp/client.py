"""The one module that talks HTTP to the WhatsApp Cloud API (or the simulator).

Every call has an explicit timeout; every failure becomes a ``CloudAPIError`` subclass.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
from django.conf import settings

from townhall.citysettings.config import whatsapp_setting
from townhall.core.privacy import redact
from townhall.whatsapp import outbound
from townhall.whatsapp.batch_http import (
    Answered,
    BatchSender,
    Late,
    NoAnswer,
    NotSent,
    Outcome,
)
from townhall.whatsapp.errors import (
    AuthError,
    CloudAPIError,
    OutcomeUnknown,
    SlotMissed,
    TransportError,
    error_from_payload,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SendResult:
    message_id: str
    wa_id: str


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message of a batch for ``send_many``."""

    to: str
    type_payload: dict[str, Any]
    reply_to: str = ""
    callback_data: str = ""


JSON = {"Content-Type": "application/json"}
# How late a paced request may still leave (see ``SlotMissed``). The limiter books 97.5 % of
# the tier, so requests that leave at most 10 ms after their slot keep every rolling second
# under the tier with 15 ms to spare for the way to Meta: (1 s + 10 ms) × 0.975 < 1 s.
LATE_SLOT_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class MediaInfo:
    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int


class CloudAPIClient:
    """A client for one business phone number.

    Thread-safe: the underlying ``httpx.Client`` pools connections across threads.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        phone_number_id: str,
        access_token: str,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        business_account_id: str = "",
    ) -> None:
        self.phone_number_id = phone_number_id
        # The WhatsApp Business Account (WABA) that owns the number and its templates.
        self.business_account_id = business_account_id
        self._client_options: dict[str, Any] = {
            "base_url": f"{base_url.rstrip('/')}/{api_version}/",
            "headers": {"Authorization": f"Bearer {access_token}"},
            "timeout": httpx.Timeout(timeout_seconds, connect=min(timeout_seconds, 5.0)),
        }
        self._http = httpx.Client(**self._client_options, transport=transport)
        self._transport = transport
        self._messages_url = f"{base_url.rstrip('/')}/{api_version}/{phone_number_id}/messages"
        self._batch_headers = {"Authorization": f"Bearer {access_token}", **JSON}
        self._timeout_seconds = timeout_seconds
        # Batches go over libcurl (``batch_http``); a test's httpx transport (``transport``)
        # gets them one after the other instead.
        self._batch_sender: BatchSender | None = None
        self._batch_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> CloudAPIClient:
        config = settings.WHATSAPP
        return cls(
            base_url=config["API_BASE_URL"],
            api_version=config["API_VERSION"],
            phone_number_id=whatsapp_setting("PHONE_NUMBER_ID"),
            access_token=whatsapp_setting("ACCESS_TOKEN"),
            timeout_seconds=config["HTTP_TIMEOUT_SECONDS"],
            business_account_id=whatsapp_setting("BUSINESS_ACCOUNT_ID"),
        )

    def close(self) -> None:
        self._http.close()
        sender, self._batch_sender = self._batch_sender, None
        if sender is not None:
            sender.close()

    # --- sending --------------------------------------------------------------------------------

    def send(
        self,
        to: str,
        message: outbound.OutboundMessage,
        *,
        reply_to: str = "",
        callback_data: str = "",
    ) -> SendResult:
        """Send one message. ``callback_data`` comes back on the message's status webhooks."""
        return self.send_raw(
            to, message.to_payload(), reply_to=reply_to, callback_data=callback_data
        )

    def send_raw(
        self,
        to: str,
        type_payload: dict[str, Any],
        *,
        reply_to: str = "",
        callback_data: str = "",
    ) -> SendResult:
        """Send a message given as ``{"type": ..., <type>: {...}}`` (see ``outbound``)."""
        body = _send_body(to, type_payload, reply_to, callback_data)
        result = _send_result(self._post(f"{self.phone_number_id}/messages", body), to)
        logger.info(
            "whatsapp.send type=%s to=%s id=%s", body.get("type"), redact(to), result.message_id
        )
        return result

    def send_many(
        self,
        requests: Sequence[SendRequest],
        *,
        first_at: float = 0.0,
        spacing: float = 0.0,
        late_limit: float | None = None,
    ) -> list[SendResult | CloudAPIError]:
        """Send a batch with up to ``batch_http.MAX_IN_FLIGHT`` requests in flight over keep-alive
        connections; one outcome per request, in order, never raised. Request ``i`` leaves
        at ``first_at + i * spacing`` (``time.monotonic()`` seconds: the send slots of the
        rate limiter), or at once where that has passed, unless it has passed by more than
        ``late_limit`` seconds: then it is not sent and its outcome is ``SlotMissed``."""
        if not requests:
            return []
        bodies = [
            orjson.dumps(
                _send_body(
                    request.to, request.type_payload, request.reply_to, request.callback_data
                )
            )
            for request in requests
        ]
        if self._transport is not None:
            answers = self._send_through_transport(bodies, first_at, spacing, late_limit)
        else:
            answers = self._sender().send(
                bodies, first_at=first_at, spacing=spacing, late_limit=late_limit
            )
        return [
            self._send_outcome(answer, request.to)
            for answer, request in zip(answers, requests, strict=True)
        ]

    def _send_outcome(self, answer: Outcome, to: str) -> SendResult | CloudAPIError:
        if isinstance(answer, Late):
            return SlotMissed(f"Not sent: {answer.late_seconds * 1000:.0f} ms after its send slot")
        if isinstance(answer, NotSent):
            return TransportError(f"{answer.reason} calling the Cloud API")
        if isinstance(answer, NoAnswer):
            return OutcomeUnknown(f"{answer.reason} calling the Cloud API")
        if answer.status >= 400:
            return self._error(answer.status, answer.content)
        try:
            return _send_result(self._json(answer.content), to)
        except CloudAPIError as error:
            return error

    def _sender(self) -> BatchSender:
        with self._batch_lock:
            if self._batch_sender is None:
                self._batch_sender = BatchSender(
                    self._messages_url,
                    self._batch_headers,
                    timeout_seconds=self._timeout_seconds,
                    # Covers opening a connection: the request has not been written yet.
                    connect_timeout_seconds=min(self._timeout_seconds, 5.0),
                    proxy=self._env_proxy(),
                )
            return self._batch_sender

    def _send_through_transport(
        self, bodies: list[bytes], first_at: float, spacing: float, late_limit: float | None
    ) -> list[Outcome]:
        """A test's httpx transport: the same slots, one request after the other."""
        answers: list[Outcome] = []
        for index, body in enumerate(bodies):
            slot = first_at + index * spacing
            time.sleep(max(0.0, slot - time.monotonic()))
            late = time.monotonic() - slot
            if late_limit is not None and late > late_limit:
                answers.append(Late(late))
                continue
            try:
                response = self._http.post(
                    f"{self.phone_number_id}/messages", content=body, headers=JSON
                )
            except httpx.HTTPError as error:
                reason = type(error).__name__
                unknown = isinstance(_transport_error(error), OutcomeUnknown)
                answers.append(NoAnswer(reason) if unknown else NotSent(reason))
                continue
            answers.append(Answered(response.status_code, response.content))
        return answers

    def _env_proxy(self) -> str | None:
        """The proxy the environment names for the Graph API (HTTPS_PROXY, NO_PROXY, …)."""
        host = urllib.parse.urlsplit(self._messages_url).hostname or ""
        if urllib.request.proxy_bypass(host):
            return None
        scheme = urllib.parse.urlsplit(self._messages_url).scheme
        return urllib.request.getproxies().get(scheme)

    def send_text(self, to: str, body: str, *, preview_url: bool = False) -> SendResult:
        return self.send(to, outbound.Text(body, preview_url=preview_url))

    def send_template(
        self, to: str, name: str, language: str, body_parameters: tuple[str, ...] = ()
    ) -> SendResult:
        return self.send(to, outbound.Template(name, language, body_parameters))

    def send_buttons(self, to: str, body: str, buttons: tuple[tuple[str, str], ...]) -> SendResult:
        return self.send(to, outbound.ReplyButtons(body, buttons))

    def send_list(
        self, to: str, body: str, button: str, sections: tuple[outbound.ListSection, ...]
    ) -> SendResult:
        return self.send(to, outbound.ListMessage(body, button, sections))

    def send_media(
        self,
        to: str,
        kind: str,
        *,
        link: str = "",
        media_id: str = "",
        caption: str = "",
        filename: str = "",
    ) -> SendResult:
        media = outbound.Media(
            kind, link=link, media_id=media_id, caption=caption, filename=filename
        )
        return self.send(to, media)

    def send_reaction(self, to: str, message_id: str, emoji: str) -> SendResult:
        return self.send(to, outbound.Reaction(message_id, emoji))

    def mark_as_read(self, message_id: str) -> None:
        """Shows the citizen blue ticks on their message."""
        self._post(
            f"{self.phone_number_id}/messages",
            {"messaging_product": "whatsapp", "status": "read", "message_id": message_id},
        )

    # --- media ----------------------------------------------------------------------------------

    def upload_media(self, content: bytes, mime_type: str, filename: str) -> str:
        response = self._request(
            "POST",
            f"{self.phone_number_id}/media",
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, content, mime_type)},
        )
        data = self._json(response)
        return str(data["id"])

    def get_media_info(self, media_id: str) -> MediaInfo:
        data = self._json(self._request("GET", media_id))
        return MediaInfo(
            id=str(data.get("id", media_id)),
            url=str(data["url"]),
            mime_type=str(data.get("mime_type", "")),
            sha256=str(data.get("sha256", "")),
            file_size=int(data.get("file_size") or 0),
        )

    def download_media(self, url: str) -> bytes:
        # Media URLs are absolute and need the bearer token too.
        response = self._request("GET", url)
        return response.content

    # --- message templates -----------------------------------------------------------------------
    # https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates

    def create_template(self, definition: dict[str, Any]) -> dict[str, Any]:
        """Submit a template for review; Meta answers ``{"id", "status", "category"}``."""
        data = self._post(f"{self._waba()}/message_templates", definition)
        if not data.get("id"):
            raise TransportError("Template submission answered without an id")
        logger.info(
            "whatsapp.template_submitted id=%s status=%s", data.get("id"), data.get("status")
        )
        return data

    def edit_template(self, template_id: str, definition: dict[str, Any]) -> dict[str, Any]:
        """Change a rejected or paused template (``POST /{template_id}``); back to review."""
        return self._post(template_id, definition)

    def list_templates(self, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every template of the business account, following Meta's paging cursors."""
        templates: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": page_size}
        # Meta pages with cursors; a bound stops a server that keeps answering "next".
        for _page in range(1000):
            data = self._json(
                self._request("GET", f"{self._waba()}/message_templates", params=params)
            )
            page = data.get("data")
            if not isinstance(page, list):
                raise TransportError("Template list answered without data")
            templates.extend(item for item in page if isinstance(item, dict))
            raw_paging = data.get("paging")
            paging: dict[str, Any] = raw_paging if isinstance(raw_paging, dict) else {}
            cursors = paging.get("cursors")
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not paging.get("next") or not after:
                break
            params = {"limit": page_size, "after": after}
        return templates

    def _waba(self) -> str:
        if not self.business_account_id:
            raise AuthError("No WhatsApp business account id configured (BUSINESS_ACCOUNT_ID)")
        return self.business_account_id

    # --- plumbing -------------------------------------------------------------------------------

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._request(
            "POST",
            path,
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        return self._json(response)

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise _transport_error(error) from error
        if response.status_code >= 400:
            raise self._error(response.status_code, response.content)
        return response

    @staticmethod
    def _json(response: httpx.Response | bytes) -> dict[str, Any]:
        content = response if isinstance(response, bytes) else response.content
        try:
            data = orjson.loads(content)
        except orjson.JSONDecodeError as error:
            raise TransportError("Cloud API answered with invalid JSON") from error
        if not isinstance(data, dict):
            raise TransportError("Cloud API answered with unexpected JSON")
        return data

    @staticmethod
    def _error(http_status: int, content: bytes) -> CloudAPIError:
        try:
            data = orjson.loads(content)
            error = data["error"]
            if not isinstance(error, dict):
                raise TypeError
        except (orjson.JSONDecodeError, KeyError, TypeError):
            error = {"message": f"HTTP {http_status} without an error body"}
        typed = error_from_payload(error, http_status=http_status)
        logger.warning(
            "whatsapp.api_error class=%s code=%s http=%s",
            type(typed).__name__,
            typed.code,
            http_status,
        )
        return typed


_clients: dict[tuple[str, str, str, str, float, str], CloudAPIClient] = {}
_clients_lock = threading.Lock()


def get_client() -> CloudAPIClient:
    """The process-wide client for the configured number (connection pooling across tasks).

    The number's ids and token come from the settings page where set (cached reads), else
    from the environment; a changed token gets a new client.
    """
    config = settings.WHATSAPP
    key = (
        config["API_BASE_URL"],
        config["API_VERSION"],
        whatsapp_setting("PHONE_NUMBER_ID"),
        whatsapp_setting("ACCESS_TOKEN"),
        config["HTTP_TIMEOUT_SECONDS"],
        whatsapp_setting("BUSINESS_ACCOUNT_ID"),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = CloudAPIClient.from_settings()
        return client


def _send_body(
    to: str, type_payload: dict[str, Any], reply_to: str, callback_data: str
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        **type_payload,
    }
    if reply_to:
        body["context"] = {"message_id": reply_to}
    if callback_data:
        body["biz_opaque_callback_data"] = callback_data
    return body


def _send_result(data: dict[str, Any], to: str) -> SendResult:
    try:
        message_id = data["messages"][0]["id"]
        contacts = data.get("contacts") or [{}]
        wa_id = contacts[0].get("wa_id") or to
    except (KeyError, IndexError, TypeError, AttributeError) as error:
        raise TransportError("Send answered without a message id") from error
    return SendResult(message_id=str(message_id), wa_id=str(wa_id))


# Failures before the request left us: sending again cannot deliver twice.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _transport_error(error: httpx.HTTPError) -> TransportError:
    """Whether a failed request may have reached Meta decides what a retry may do."""
    what = f"{type(error).__name__} calling the Cloud API"
    if isinstance(error, _NOT_SENT):
        return TransportError(what)
    return OutcomeUnknown(what)
