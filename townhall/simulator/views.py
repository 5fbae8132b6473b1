"""HTTP faces of the simulator: the Graph API, the control API and the browser phone.

Views parse the request, call one ``Simulator`` method and render; the rules live in
``engine``. Graph and control endpoints are CSRF-exempt JSON APIs (machines call them);
the phone pages are HTML forms with CSRF protection, enhanced with htmx.
"""

import functools
import re
from collections.abc import Callable
from typing import Any

import orjson
from django.contrib.staticfiles.views import serve as serve_static_file
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from townhall.simulator.engine import (
    WA_ID_RE,
    ControlError,
    MediaItem,
    Simulator,
    get_simulator,
    media_kind,
    message_as_dict,
)
from townhall.simulator.errors import GraphError, invalid_parameter, unknown_object
from townhall.simulator.graph_send import answer_send, bearer_token, graph_error_answer
from townhall.simulator.presentation import REACTION_EMOJIS, build_bubbles

SAFE_FILENAME_RE = re.compile(r"[^\w.\- ]")
FLUSH_TIMEOUT_MAX_SECONDS = 120.0

ViewFunction = Callable[..., HttpResponseBase]


def _json(data: object, status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), content_type="application/json", status=status)


# --- Graph API ----------------------------------------------------------------------------------


def _answer(status: int, content: bytes, headers: list[tuple[str, str]]) -> HttpResponse:
    response = HttpResponse(content, status=status)
    for name, value in headers:
        response[name] = value
    return response


def _graph_error(error: GraphError) -> HttpResponse:
    return _answer(*graph_error_answer(error))


def _bearer_token(request: HttpRequest) -> str | None:
    """The access token from ``Authorization: Bearer``, or Graph's ``access_token`` param."""
    return bearer_token(request.headers.get("Authorization", "")) or (
        request.GET.get("access_token") or None
    )


@csrf_exempt
def graph_messages(request: HttpRequest, version: str, phone_number_id: str) -> HttpResponse:
    """``POST /{version}/{phone_number_id}/messages``; well-formed requests take the same
    code without Django (``graph_send.SendShortcut``)."""
    if request.method != "POST":
        return _graph_error(unknown_object(phone_number_id, method=str(request.method).lower()))
    return _answer(
        *answer_send(
            version=version,
            phone_number_id=phone_number_id,
            access_token=_bearer_token(request),
            body=request.body,
        )
    )


@csrf_exempt
def graph_media_upload(request: HttpRequest, version: str, phone_number_id: str) -> HttpResponse:
    """``POST /{version}/{phone_number_id}/media`` (multipart: file, messaging_product, type)."""
    if request.method != "POST":
        return _graph_error(unknown_object(phone_number_id, method=str(request.method).lower()))
    upload = request.FILES.get("file")
    try:
        result = get_simulator().upload_media(
            version=version,
            phone_number_id=phone_number_id,
            access_token=_bearer_token(request),
            messaging_product=request.POST.get("messaging_product"),
            data=upload.read() if upload else None,
            mime_type=request.POST.get("type") or (upload.content_type if upload else "") or "",
            filename=(upload.name if upload else "") or "",
        )
    except GraphError as error:
        return _graph_error(error)
    return _json(result)


@csrf_exempt
def graph_media(request: HttpRequest, version: str, media_id: str) -> HttpResponse:
    """``GET`` (URL and metadata) or ``DELETE`` of ``/{version}/{media_id}``; ``GET`` of the
    phone number id answers the phone number's details instead."""
    simulator = get_simulator()
    token = _bearer_token(request)
    try:
        if request.method == "DELETE":
            simulator.delete_media(version=version, media_id=media_id, access_token=token)
            return _json({"success": True})
        if request.method == "POST":
            # POST /{template_id}: Meta's way to change a template (media ids are not POSTed).
            return _json(
                simulator.edit_template(
                    version=version,
                    template_id=media_id,
                    access_token=token,
                    payload=_graph_body(request),
                )
            )
        if request.method != "GET":
            raise unknown_object(media_id, method=str(request.method).lower())
        if media_id == simulator.config.phone_number_id:
            return _json(simulator.phone_number_info(version=version, access_token=token))
        media = simulator.media_info(version=version, media_id=media_id, access_token=token)
    except GraphError as error:
        return _graph_error(error)
    return _json(
        {
            "messaging_product": "whatsapp",
            "url": request.build_absolute_uri(reverse("simulator:media_download", args=[media.id])),
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": media.file_size,
            "id": media.id,
        }
    )


def _graph_body(request: HttpRequest) -> object:
    try:
        return orjson.loads(request.body or b"null")
    except orjson.JSONDecodeError as error:
        raise invalid_parameter("The request body is not valid JSON.") from error


@csrf_exempt
def graph_message_templates(request: HttpRequest, version: str, waba_id: str) -> HttpResponse:
    """``GET`` (list, cursor paging) or ``POST`` (submit for review) of
    ``/{version}/{WABA_ID}/message_templates``."""
    simulator = get_simulator()
    token = _bearer_token(request)
    try:
        if request.method == "POST":
            return _json(
                simulator.create_template(
                    version=version,
                    waba_id=waba_id,
                    access_token=token,
                    payload=_graph_body(request),
                )
            )
        if request.method != "GET":
            raise unknown_object(waba_id, method=str(request.method).lower())
        try:
            limit = int(request.GET.get("limit", "25"))
        except ValueError as error:
            raise invalid_parameter("Param limit must be a number.") from error
        return _json(
            simulator.list_templates(
                version=version,
                waba_id=waba_id,
                access_token=token,
                limit=limit,
                after=request.GET.get("after", ""),
            )
        )
    except GraphError as error:
        return _graph_error(error)


def _media_response(media: MediaItem) -> HttpResponse:
    response = HttpResponse(media.data, content_type=media.mime_type)
    response["Content-Length"] = str(media.file_size)
    if media.filename:
        # The name comes from an uploader: keep it to characters safe in a header.
        safe_name = SAFE_FILENAME_RE.sub("_", media.filename)
        response["Content-Disposition"] = f'inline; filename="{safe_name}"'
    return response


@require_GET
def media_download(request: HttpRequest, media_id: str) -> HttpResponse:
    """The media URL handed out by ``GET /{media_id}``; like Meta's, it needs the token."""
    simulator = get_simulator()
    try:
        simulator.authenticate(_bearer_token(request))
    except GraphError as error:
        return _graph_error(error)
    media = simulator.get_media(media_id)
    if media is None:
        return _graph_error(unknown_object(media_id, method="get"))
    return _media_response(media)


# --- control API --------------------------------------------------------------------------------


def control_endpoint(*methods: str) -> Callable[[ViewFunction], ViewFunction]:
    """JSON, CSRF-exempt, method-checked; ControlError and ValueError become 4xx JSON."""

    def decorator(view: ViewFunction) -> ViewFunction:
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in methods:
                response = _json({"error": {"message": "method not allowed"}}, status=405)
                response["Allow"] = ", ".join(methods)
                return response
            refusal = _cross_origin_refusal(request)
            if refusal is not None:
                return refusal
            try:
                return view(request, *args, **kwargs)
            except ControlError as error:
                return _json({"error": {"message": str(error)}}, status=error.status)
            except ValueError as error:
                return _json({"error": {"message": str(error)}}, status=400)

        return wrapper

    return decorator


def _cross_origin_refusal(request: HttpRequest) -> HttpResponse | None:
    """403/415 for a control call a web page in the demo user's browser could make.

    Browsers send "simple" cross-origin POSTs (text/plain, forms) without asking first; the
    control API makes citizens write, so it answers only same-origin or non-browser clients
    (no Origin header) and only JSON bodies, which a foreign page cannot send unasked.
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin != f"{request.scheme}://{request.get_host()}":
        return _json({"error": {"message": "cross-origin request refused"}}, status=403)
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in {"same-origin", "none"}:
        return _json({"error": {"message": "cross-site request refused"}}, status=403)
    if request.method == "POST" and request.body:
        content_type = request.content_type or ""
        if content_type != "application/json":
            return _json({"error": {"message": "body must be application/json"}}, status=415)
    return None


def _json_body(request: HttpRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = orjson.loads(request.body)
    except orjson.JSONDecodeError as error:
        raise ControlError("body must be JSON") from error
    if not isinstance(data, dict):
        raise ControlError("body must be a JSON object")
    return data


@control_endpoint("GET")
def control_health(request: HttpRequest) -> HttpResponse:
    return _json({"ok": True})


@control_endpoint("GET", "POST")
def control_citizens(request: HttpRequest) -> HttpResponse:
    """GET: all citizens. POST {"wa_id", "name"?, "reachable"?, "online"?}: create or update
    one (offline: messages wait for the phone until their time-to-live ends)."""
    simulator = get_simulator()
    if request.method == "GET":
        return _json({"citizens": simulator.citizens()})
    body = _json_body(request)
    wa_id = str(body.get("wa_id", ""))
    is_new = simulator.citizen(wa_id) is None
    reachable = body.get("reachable")
    if reachable is not None and not isinstance(reachable, bool):
        raise ControlError("reachable must be true or false")
    online = body.get("online")
    if online is not None and not isinstance(online, bool):
        raise ControlError("online must be true or false")
    citizen = simulator.upsert_citizen(
        wa_id,
        name=str(body["name"]) if body.get("name") else None,
        is_reachable=reachable,
        is_online=online,
    )
    return _json(citizen, status=201 if is_new else 200)


@control_endpoint("POST")
def control_citizen_send(request: HttpRequest, wa_id: str) -> HttpResponse:
    """The citizen sends something; returns the inbound wamid."""
    message_id = get_simulator().citizen_send(wa_id, _json_body(request))
    return _json({"message_id": message_id})


@control_endpoint("POST")
def control_citizen_change_number(request: HttpRequest, wa_id: str) -> HttpResponse:
    """The citizen changes their number: {"new_wa_id"}; the business gets WhatsApp's
    ``user_changed_number`` notice. Returns the notice's wamid."""
    new_wa_id = _json_body(request).get("new_wa_id")
    if not isinstance(new_wa_id, str):
        raise ControlError("new_wa_id must be a string of digits")
    return _json({"message_id": get_simulator().citizen_change_number(wa_id, new_wa_id)})


@control_endpoint("GET")
def control_citizen_messages(request: HttpRequest, wa_id: str) -> HttpResponse:
    thread = get_simulator().thread(wa_id)
    if thread is None:
        raise ControlError("unknown citizen", status=404)
    version, messages = thread
    return _json(
        {
            "wa_id": wa_id,
            "version": version,
            "messages": [message_as_dict(message) for message in messages],
        }
    )


@control_endpoint("POST")
def control_citizen_read(request: HttpRequest, wa_id: str) -> HttpResponse:
    """The citizen opens the chat: business messages sent so far become read."""
    if get_simulator().citizen(wa_id) is None:
        raise ControlError("unknown citizen", status=404)
    return _json({"marked": get_simulator().mark_read_by_citizen(wa_id)})


@control_endpoint("GET")
def control_personas(request: HttpRequest) -> HttpResponse:
    return _json({"personas": Simulator.personas()})


@control_endpoint("POST")
def control_personas_load(request: HttpRequest) -> HttpResponse:
    return _json({"loaded": get_simulator().load_personas()})


@control_endpoint("GET", "POST")
def control_templates(request: HttpRequest) -> HttpResponse:
    """GET: approved templates. POST: add or replace one (registry JSON shape)."""
    simulator = get_simulator()
    if request.method == "GET":
        return _json({"templates": simulator.templates()})
    return _json(simulator.register_template(_json_body(request)), status=201)


@control_endpoint("POST")
def control_template_status(request: HttpRequest, template_id: str) -> HttpResponse:
    """Meta changes a template: {"event": "PAUSED"|"DISABLED"|"APPROVED"|"REJECTED",
    "reason"?}; the status webhook follows."""
    body = _json_body(request)
    return _json(
        get_simulator().set_template_status(
            template_id, str(body.get("event", "")), str(body.get("reason", "NONE"))
        )
    )


@control_endpoint("GET")
def control_stats(request: HttpRequest) -> HttpResponse:
    return _json(get_simulator().stats())


@control_endpoint("GET", "POST")
def control_config(request: HttpRequest) -> HttpResponse:
    """GET: current settings (secrets masked). POST: partial update."""
    simulator = get_simulator()
    if request.method == "POST":
        simulator.update_config(_json_body(request))
    return _json(simulator.config.as_public_dict())


@control_endpoint("POST")
def control_reset(request: HttpRequest) -> HttpResponse:
    """Forget all state; {"config": true} also restores the settings the process started with."""
    restore_config = bool(_json_body(request).get("config", False))
    get_simulator().reset(restore_config=restore_config)
    return _json({"reset": True})


@control_endpoint("POST")
def control_flush(request: HttpRequest) -> HttpResponse:
    """Wait until all scheduled webhooks are delivered or dropped (``timeout`` seconds)."""
    body = _json_body(request)
    raw_timeout = body.get("timeout", request.GET.get("timeout", 10))
    try:
        timeout = min(float(raw_timeout), FLUSH_TIMEOUT_MAX_SECONDS)
    except (TypeError, ValueError) as error:
        raise ControlError("timeout must be a number of seconds") from error
    is_drained = get_simulator().flush(timeout)
    return _json({"drained": is_drained}, status=200 if is_drained else 504)


@control_endpoint("POST")
def control_redeliver(request: HttpRequest) -> HttpResponse:
    """Re-send the identical signed webhook of an inbound message ``times`` times."""
    body = _json_body(request)
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool):
        raise ControlError("times must be an integer")
    queued = get_simulator().redeliver(str(body.get("message_id", "")), times)
    return _json({"queued": queued})


# --- the browser phone --------------------------------------------------------------------------


def _phone_media_url(media_id: str) -> str:
    return reverse("simulator:phone_media", args=[media_id])


def _thread_context(simulator: Simulator, wa_id: str, *, error: str = "") -> dict[str, Any] | None:
    if not simulator.config.auto_read:
        # With auto_read off, a message counts as read once the chat is open in a browser.
        simulator.mark_read_by_citizen(wa_id)
    citizen = simulator.citizen(wa_id)
    thread = simulator.thread(wa_id)
    if citizen is None or thread is None:
        return None
    version, messages = thread
    return {
        "citizen": citizen,
        "wa_id": wa_id,
        "version": version,
        "bubbles": build_bubbles(messages, media_url=_phone_media_url),
        "reaction_emojis": REACTION_EMOJIS,
        "error": error,
    }


def _phone_context(simulator: Simulator, wa_id: str) -> dict[str, Any]:
    context = _thread_context(simulator, wa_id)
    if context is None:
        raise Http404(_("Unbekannte Nummer"))
    context["business_name"] = simulator.config.business_name
    return context


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """All simulated citizens, a form for a new one and the demo personas."""
    simulator = get_simulator()
    known = {citizen["wa_id"] for citizen in simulator.citizens()}
    return render(
        request,
        "simulator/index.html",
        {
            "citizens": simulator.citizens(),
            "personas": [p for p in simulator.personas() if p["wa_id"] not in known],
            "business_name": simulator.config.business_name,
            "config": simulator.config,
            "form_wa_id": request.GET.get("wa_id", ""),
        },
    )


@require_POST
def create_citizen(request: HttpRequest) -> HttpResponse:
    """The index page's form: register a citizen and open their phone."""
    wa_id = request.POST.get("wa_id", "").strip().removeprefix("+").replace(" ", "")
    if not WA_ID_RE.fullmatch(wa_id):
        return HttpResponseRedirect(reverse("simulator:index") + "?invalid=1")
    name = request.POST.get("name", "").strip()[:100] or None
    get_simulator().upsert_citizen(wa_id, name=name)
    return HttpResponseRedirect(reverse("simulator:phone", args=[wa_id]))


@require_GET
def phone(request: HttpRequest, wa_id: str) -> HttpResponse:
    simulator = get_simulator()
    return render(
        request,
        "simulator/phone_page.html",
        {
            "phones": [_phone_context(simulator, wa_id)],
            "business_name": simulator.config.business_name,
        },
    )


@require_GET
def phones(request: HttpRequest) -> HttpResponse:
    """Several phones side by side: ``/phones/?wa_id=a&wa_id=b``."""
    simulator = get_simulator()
    wa_ids = list(dict.fromkeys(request.GET.getlist("wa_id")))[:8]
    contexts = [_thread_context(simulator, wa_id) for wa_id in wa_ids]
    return render(
        request,
        "simulator/phone_page.html",
        {
            "phones": [context for context in contexts if context is not None],
            "business_name": simulator.config.business_name,
        },
    )


@require_GET
def phone_thread(request: HttpRequest, wa_id: str) -> HttpResponse:
    """The polled chat fragment; 204 (htmx keeps the page) while the version is unchanged."""
    simulator = get_simulator()
    if not simulator.config.auto_read:
        simulator.mark_read_by_citizen(wa_id)
    version = simulator.thread_version(wa_id)
    if version is None:
        raise Http404(_("Unbekannte Nummer"))
    if request.GET.get("v") == str(version):
        return HttpResponse(status=204)
    return _render_thread(request, simulator, wa_id)


def _render_thread(
    request: HttpRequest, simulator: Simulator, wa_id: str, *, error: str = ""
) -> HttpResponse:
    context = _thread_context(simulator, wa_id, error=error)
    if context is None:
        raise Http404(_("Unbekannte Nummer"))
    return render(request, "simulator/_thread.html", context)


def _after_phone_action(
    request: HttpRequest, wa_id: str, action: Callable[[], object]
) -> HttpResponse:
    """Run a citizen action; htmx gets the new thread, plain forms a redirect."""
    simulator = get_simulator()
    error = ""
    try:
        action()
    except ControlError as control_error:
        error = str(control_error)
    if request.headers.get("HX-Request"):
        return _render_thread(request, simulator, wa_id, error=error)
    return HttpResponseRedirect(reverse("simulator:phone", args=[wa_id]))


@require_POST
def phone_send(request: HttpRequest, wa_id: str) -> HttpResponse:
    """The citizen types a message, optionally with an attachment (its caption)."""
    simulator = get_simulator()
    text = request.POST.get("text", "").strip()
    upload = request.FILES.get("attachment")

    def send() -> None:
        if upload is not None:
            media = simulator.store_citizen_media(
                upload.read(), upload.content_type or "", upload.name or ""
            )
            simulator.citizen_send(
                wa_id, {"type": media_kind(media.mime_type), "media_id": media.id, "caption": text}
            )
        elif text:
            simulator.citizen_send(wa_id, {"type": "text", "text": text})

    return _after_phone_action(request, wa_id, send)


@require_POST
def phone_reply(request: HttpRequest, wa_id: str) -> HttpResponse:
    """A tap on a reply button, a list row or a template quick reply."""
    form: QueryDict = request.POST
    kind = form.get("action", "")
    message_id = form.get("message_id", "")
    value = form.get("value", "")
    if kind == "button_reply":
        action: dict[str, Any] = {"type": kind, "message_id": message_id, "button_id": value}
    elif kind == "list_reply":
        action = {"type": kind, "message_id": message_id, "row_id": value}
    elif kind == "button" and value.isdigit():
        action = {"type": "button", "message_id": message_id, "index": int(value)}
    else:
        action = {"type": "unknown"}
    return _after_phone_action(request, wa_id, lambda: get_simulator().citizen_send(wa_id, action))


@require_POST
def phone_react(request: HttpRequest, wa_id: str) -> HttpResponse:
    """React to a city message; tapping the current reaction again removes it."""
    simulator = get_simulator()
    message_id = request.POST.get("message_id", "")
    emoji = request.POST.get("emoji", "")

    def react() -> None:
        if emoji not in REACTION_EMOJIS:
            raise ControlError(_("Unbekannte Reaktion"))
        thread = simulator.thread(wa_id)
        current = ""
        for message in thread[1] if thread else []:
            if message.id == message_id:
                current = message.citizen_reaction
        simulator.citizen_send(
            wa_id,
            {
                "type": "reaction",
                "message_id": message_id,
                "emoji": "" if current == emoji else emoji,
            },
        )

    return _after_phone_action(request, wa_id, react)


@require_GET
def phone_media(request: HttpRequest, media_id: str) -> HttpResponse:
    """Media for the phone pages, without the Graph token (the UI is a local dev tool)."""
    media = get_simulator().get_media(media_id)
    if media is None:
        raise Http404(_("Unbekannte Datei"))
    return _media_response(media)


def static_file(request: HttpRequest, path: str) -> HttpResponseBase:
    """htmx and friends from app static folders; fine for a single-user local tool."""
    return serve_static_file(request, path, insecure=True)
