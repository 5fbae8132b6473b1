"""The info channel's staff pages: parse the request, check access, call one action, render.

- ``/kanal/``: posts by state, and what waits for the approver.
- ``/kanal/neu/``, ``/kanal/<id>/bearbeiten/``: the composer. While staff type, htmx asks
  for the phone preview (``vorschau/``) and the audience panel (``publikum/``) and saves the
  draft every few seconds (``entwurf/``).
- ``/kanal/<id>/``: the post, its approval trail, approval and sending controls, and the
  progress, which polls ``fortschritt/`` every two seconds while the post is going out.

Every step is an action of ``channel.actions``; a refused step comes back as a message, and
the action itself checks the permission again, so no page can send without approval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from townhall.channel import actions, audience, pricing, progress, queries, sending_rule
from townhall.channel.access import (
    access_new_post,
    access_post,
    access_post_for_approval,
    access_post_for_editing,
    access_post_for_sending_control,
    access_post_for_urgent_sending,
    access_post_list,
    can_approve,
    can_draft,
    can_edit_rate_card,
    can_send_urgent,
    has_permission,
)
from townhall.channel.forms import POST_LANGUAGES, CommentForm, PostForm
from townhall.channel.models import Poll, PollOption, Post, PostEvent, PostVersion
from townhall.core import clock
from townhall.web.http import HtmxHttpRequest, staff_login_required
from townhall.whatsapp import formatting, outbound
from townhall.whatsapp.models import MessageTemplate

# States in which the detail page polls the progress.
LIVE_STATES = (Post.State.APPROVED, Post.State.SENDING, Post.State.PAUSED)
PROGRESS_STATES = (Post.State.SENDING, Post.State.PAUSED, Post.State.SENT, Post.State.CANCELLED)
PROGRESS_POLL_SECONDS = 2
# How long after the last hand-over the page keeps polling for delivered and read statuses.
STATUS_WATCH_AFTER_SENDING = timedelta(minutes=15)
AUTOSAVE_DELAY_SECONDS = 3
TEMPLATE_PARAMETER_RE = re.compile(r"\{\{\s*(\d+)\s*\}\}")
# How the composer's buttons name what to do after saving.
SAVE, SUBMIT, URGENT = "save", "submit", "urgent"


# --- the list -----------------------------------------------------------------------------------


@staff_login_required
@require_GET
def posts(request: HtmxHttpRequest) -> HttpResponse:
    access_post_list(request.user)
    try:
        tab = queries.PostTab(request.GET.get("tab", queries.PostTab.DRAFTS))
    except ValueError:
        tab = queries.PostTab.DRAFTS
    is_approver = can_approve(request.user)
    return render(
        request,
        "channel/posts.html",
        {
            "tab": tab,
            "tabs": queries.tab_counts(),
            "page": queries.posts_page(tab, request.GET.get("page")),
            "waiting_for_me": queries.waiting_for_approval_by(request.user) if is_approver else [],
            "can_draft": has_permission(request.user, "channel.add_post"),
            "can_edit_rate_card": can_edit_rate_card(request.user),
        },
    )


# --- the composer -------------------------------------------------------------------------------


def _approved_templates() -> list[MessageTemplate]:
    return list(MessageTemplate.objects.filter(status=MessageTemplate.Status.APPROVED))


def _composer_context(request: HtmxHttpRequest, form: PostForm, post: Post | None) -> dict:
    return {
        "form": form,
        "post": post,
        "post_languages": POST_LANGUAGES,
        "has_approved_template": bool(_approved_templates()),
        "can_send_urgent": can_send_urgent(request.user),
        "autosave_delay": AUTOSAVE_DELAY_SECONDS,
        "text_max_chars": outbound.TEXT_MAX_CHARS,
        "caption_max_chars": outbound.CAPTION_MAX_CHARS,
    }


def _editable_post(request: HtmxHttpRequest, post_id: str | None) -> Post | None:
    """The draft named in the form (a hidden field once autosave created it), if any."""
    if not post_id or not post_id.isdigit():
        return None
    return access_post_for_editing(request.user, int(post_id))


def _save_and_continue(request: HtmxHttpRequest, form: PostForm, post: Post | None) -> HttpResponse:
    """Save the draft, then do what the pressed button says (submit, send urgently)."""
    next_step = request.POST.get("action", SAVE)
    try:
        post = actions.do_save_draft(author=request.user, post=post, **form.draft_arguments())
        if next_step == SUBMIT:
            actions.do_submit_for_approval(post, actor=request.user)
    except actions.PostActionRefused as refusal:
        form.add_error(None, refusal.message)
        return render(
            request, "channel/compose.html", _composer_context(request, form, post), status=400
        )
    if next_step == SUBMIT:
        messages.success(request, _("The post waits for approval now."))
        return redirect("channel:post", post.pk)
    if next_step == URGENT:
        return redirect("channel:send_urgent", post.pk)
    messages.success(request, _("The draft was saved."))
    return redirect("channel:edit", post.pk)


@staff_login_required
@require_http_methods(["GET", "POST"])
def compose(request: HtmxHttpRequest) -> HttpResponse:
    access_new_post(request.user)
    if request.method == "POST":
        post = _editable_post(request, request.POST.get("post"))
        form = PostForm(request.POST, request.FILES)
        if form.is_valid():
            return _save_and_continue(request, form, post)
        return render(
            request, "channel/compose.html", _composer_context(request, form, post), status=400
        )
    return render(request, "channel/compose.html", _composer_context(request, PostForm(), None))


@staff_login_required
@require_http_methods(["GET", "POST"])
def edit(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_editing(request.user, post_id)
    if post.state not in actions.EDITABLE:
        messages.info(request, _("Only drafts and posts sent back can be edited."))
        return redirect("channel:post", post.pk)
    if request.method == "POST":
        form = PostForm(request.POST, request.FILES)
        if form.is_valid():
            return _save_and_continue(request, form, post)
        return render(
            request, "channel/compose.html", _composer_context(request, form, post), status=400
        )
    form = PostForm(initial=PostForm.initial_for(post))
    return render(request, "channel/compose.html", _composer_context(request, form, post))


@staff_login_required
@require_POST
def autosave(request: HtmxHttpRequest) -> HttpResponse:
    """Save the composer's draft in the background; answers with the "saved at" line.

    The first save of a new post creates it: the answer puts its id into the form and the
    edit URL into the address bar, so later saves update the same draft. Files are not part
    of autosave (uploading on every pause in typing would be slow); the buttons save them.
    """
    access_new_post(request.user)
    post = _editable_post(request, request.POST.get("post"))
    form = PostForm(request.POST)
    context: dict[str, Any] = {"post": post}
    if not form.is_valid():
        context["problem"] = _first_error(form)
        return render(request, "channel/_autosave.html", context)
    try:
        post = actions.do_save_draft(author=request.user, post=post, **form.draft_arguments())
    except actions.PostActionRefused as refusal:
        context["problem"] = refusal.message
        return render(request, "channel/_autosave.html", context)
    context.update(post=post, saved_at=clock.now(), created=context["post"] is None)
    response = render(request, "channel/_autosave.html", context)
    if context["created"]:
        response["HX-Replace-Url"] = reverse("channel:edit", args=[post.pk])
    return response


def _first_error(form: PostForm) -> str:
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return ""


@dataclass(frozen=True)
class Counter:
    label: str
    length: int
    limit: int

    @property
    def is_over(self) -> bool:
        return self.length > self.limit


@dataclass(frozen=True)
class PhonePreview:
    language: str
    language_label: str
    free_text: SafeString
    free_text_counter: Counter
    has_attachment: bool
    template: MessageTemplate | None
    template_body: SafeString | None
    template_counters: tuple[Counter, ...]
    # The poll as the phone shows it: answers as buttons or list rows, and why it cannot go.
    poll_question: str = ""
    poll_choices: tuple[str, ...] = ()
    poll_as_list: bool = False
    poll_list_button: str = ""
    poll_footer: str = ""
    poll_problem: str = ""


def _template_body(template: MessageTemplate, parameters: tuple[str, ...]) -> str:
    """The template's body as the phone shows it, with the parameters filled in."""

    def value(match: re.Match[str]) -> str:
        number = int(match.group(1))
        return parameters[number - 1] if 0 < number <= len(parameters) else match.group(0)

    return TEMPLATE_PARAMETER_RE.sub(value, template.body)


def _typed_poll(form: PostForm) -> tuple[Poll, list[PollOption]] | None:
    """The poll as typed (unsaved), when the form has a valid one."""
    if not form.is_valid() or form.cleaned_data.get("poll") is None:
        return None
    draft = form.cleaned_data["poll"]
    poll = Poll(question=draft.question, question_en=draft.question_en, closes_at=draft.closes_at)
    options = [
        PollOption(position=position, title=title, title_en=title_en)
        for position, (title, title_en) in enumerate(
            zip(draft.options, draft.options_en, strict=True), start=1
        )
    ]
    return poll, options


def _form_template(form: PostForm) -> MessageTemplate | None:
    """The template closed windows get for what is typed: the poll template for a poll."""
    typed = _typed_poll(form)
    if typed is not None:
        return sending_rule.poll_template(len(typed[1]))
    return form.cleaned_data.get("template") if form.is_valid() else None


def _poll_preview(
    version: PostVersion, url: str, poll: Poll, options: list[PollOption]
) -> dict[str, Any]:
    question = poll.question_in(version.language)
    try:
        message = sending_rule.poll_interactive_message(version, url, poll, options)
    except outbound.InvalidOutboundMessage as error:
        return {"poll_question": question, "poll_problem": str(error)}
    if isinstance(message, outbound.ListMessage):
        choices = tuple(row.title for section in message.sections for row in section.rows)
        return {
            "poll_question": question,
            "poll_choices": choices,
            "poll_as_list": True,
            "poll_list_button": message.button,
            "poll_footer": message.footer,
            "free_text": formatting.to_html(message.body),
        }
    return {
        "poll_question": question,
        "poll_choices": tuple(title for _id, title in message.buttons),
        "poll_footer": message.footer,
        "free_text": formatting.to_html(message.body),
    }


def _phone_previews(form: PostForm, post: Post | None) -> list[PhonePreview]:
    """What citizens will see, per language: as free text (window open) and as the
    template (window closed), built by the sending rule itself from what is typed now."""
    data = form.data
    typed_poll = _typed_poll(form)
    # A new post gets its public address when first saved; until then a placeholder.
    url = sending_rule.public_url(post) if post else f"{settings.PUBLIC_BASE_URL}/p/…/"
    has_attachment = bool(data.get("attachment_name")) or bool(post and post.attachment)
    limit = outbound.CAPTION_MAX_CHARS if has_attachment else outbound.TEXT_MAX_CHARS
    template = None
    template_id = str(data.get("template", ""))
    if typed_poll is not None:
        template = sending_rule.poll_template(len(typed_poll[1]))
    elif template_id.isdigit():
        template = MessageTemplate.objects.filter(
            pk=int(template_id), status=MessageTemplate.Status.APPROVED
        ).first()
    previews = []
    for language, label in POST_LANGUAGES:
        title = str(data.get(f"title_{language}", "")).strip()
        text = str(data.get(f"text_{language}", "")).strip()
        if language != "de" and not (title or text):
            continue
        version = PostVersion(language=language, title=title, text=text)
        typed_length = len(f"*{title}*\n\n{text}\n\n{url}")
        free_text = sending_rule.free_text_body(version, url, limit)
        template_body = None
        template_counters: tuple[Counter, ...] = ()
        if template is not None:
            # An unsaved post stands in for a new one (its public id, no attachment yet).
            if typed_poll is not None:
                message = sending_rule.poll_template_message(template, version, url, *typed_poll)
            else:
                message = sending_rule.template_message(template, post or Post(), version, url)
            body = _template_body(template, message.body_parameters)
            template_body = formatting.to_html(body)
            template_counters = (
                Counter(_("Template text"), len(body), outbound.INTERACTIVE_BODY_MAX_CHARS),
            )
        poll_extra = _poll_preview(version, url, *typed_poll) if typed_poll else {}
        previews.append(
            PhonePreview(
                language=language,
                language_label=str(label),
                free_text=poll_extra.pop("free_text", None) or formatting.to_html(free_text),
                free_text_counter=Counter(
                    _("Caption") if has_attachment else _("Message"), typed_length, limit
                ),
                has_attachment=has_attachment,
                template=template,
                template_body=template_body,
                template_counters=template_counters,
                **poll_extra,
            )
        )
    return previews


@staff_login_required
@require_POST
def preview(request: HtmxHttpRequest) -> HttpResponse:
    """The phone preview of what is typed now (nothing is saved)."""
    access_new_post(request.user)
    post = _editable_post(request, request.POST.get("post"))
    form = PostForm(request.POST, request.FILES)
    return render(request, "channel/_preview.html", {"previews": _phone_previews(form, post)})


@staff_login_required
@require_POST
def audience_panel(request: HtmxHttpRequest) -> HttpResponse:
    """Who the post reaches with the chosen topics, kind and template; the estimated cost
    and whether today's messaging limit allows it."""
    access_new_post(request.user)
    form = PostForm(request.POST)
    form.is_valid()  # the audience needs topics, kind and template only
    values = form.cleaned_data
    topics = list(values.get("topics") or [])
    template = _form_template(form) if values.get("poll") else values.get("template")
    kind = values.get("kind") or Post.Kind.NORMAL
    languages = [
        language
        for language, _label in POST_LANGUAGES
        if str(request.POST.get(f"title_{language}", "")).strip()
    ] or ["de"]
    plan = audience.plan_audience(topics=topics, kind=kind, template=template, languages=languages)
    estimate = pricing.estimate_audience_cost(topics=topics, template=template, kind=kind)
    labels = {language: str(label) for language, label in POST_LANGUAGES}
    return render(
        request,
        "channel/_audience.html",
        {
            "plan": plan,
            "estimate": estimate,
            "by_language": [
                (labels.get(language, language), count)
                for language, count in sorted(plan.by_language.items())
            ],
            "is_urgent": kind == Post.Kind.URGENT,
            "template": template,
            "has_approved_template": bool(_approved_templates()),
        },
    )


# --- one post -----------------------------------------------------------------------------------


def _trail(post: Post) -> list[dict[str, Any]]:
    """The approval trail; runs of autosaved edits by one person show as one line."""
    entries: list[dict[str, Any]] = []
    for event in post.events.select_related("actor"):
        previous = entries[-1] if entries else None
        if (
            previous is not None
            and event.action == PostEvent.Action.EDITED
            and previous["event"].action == PostEvent.Action.EDITED
            and previous["event"].actor_id == event.actor_id
        ):
            previous["count"] += 1
            previous["last_at"] = event.created_at
            continue
        entries.append({"event": event, "count": 1, "last_at": event.created_at})
    return entries


def _progress_context(post: Post, user: Any) -> dict[str, Any]:
    numbers = progress.post_progress(post)
    # After the last hand-over, delivered and read statuses keep coming for a while (read
    # receipts may never come: some citizens turn them off, so not for ever).
    awaits_statuses = (
        post.state == Post.State.SENT
        and numbers.sent + numbers.delivered > 0
        and post.finished_at is not None
        and clock.now() - post.finished_at < STATUS_WATCH_AFTER_SENDING
    )
    return {
        "post": post,
        "progress": numbers,
        "is_live": post.state in LIVE_STATES or awaits_statuses,
        "poll_seconds": PROGRESS_POLL_SECONDS,
        "failed_reasons": sorted(numbers.failed_by_reason.items(), key=lambda item: -item[1]),
        "can_control": can_approve(user) or can_send_urgent(user),
    }


def _limit_plan(post: Post) -> audience.AudiencePlan | None:
    """The audience plan of a normal post that today's messaging limit cannot take whole."""
    if post.kind != Post.Kind.NORMAL:
        return None
    plan = audience.plan_audience(
        topics=post.topics.all(),
        kind=post.kind,
        template=sending_rule.audience_template(post),
        languages=post.versions.values_list("language", flat=True),
    )
    return plan if plan.template_later else None


@staff_login_required
@require_GET
def post_detail(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post(request.user, post_id)
    user = request.user
    is_author = post.author_id == getattr(user, "pk", None)
    poll = sending_rule.post_poll(post)
    context = {
        "post": post,
        "poll": poll,
        "poll_options": list(poll.options.all()) if poll is not None else [],
        "poll_template": sending_rule.audience_template(post) if poll is not None else None,
        "versions": list(post.versions.order_by("language")),
        "topics": list(post.topics.all()),
        "trail": _trail(post),
        "is_author": is_author,
        "can_edit": post.state in actions.EDITABLE and has_permission(user, "channel.change_post"),
        "can_submit": post.state in actions.EDITABLE and can_draft(user),
        "can_review": post.state == Post.State.IN_REVIEW and can_approve(user),
        "can_send_urgent": post.kind == Post.Kind.URGENT
        and post.state in actions.BEFORE_SENDING
        and can_send_urgent(user),
        "can_review_after": post.needs_review_after and can_approve(user),
        "comment_form": CommentForm(),
        "limit_plan": _limit_plan(post) if post.state == Post.State.IN_REVIEW else None,
        "shows_progress": post.state in PROGRESS_STATES or post.state in LIVE_STATES,
        **(_progress_context(post, user) if post.state in PROGRESS_STATES + LIVE_STATES else {}),
    }
    return render(request, "channel/post.html", context)


@staff_login_required
@require_GET
def post_progress(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    """The progress fragment the detail page polls (with the state and the controls, which
    change with it); without a poll trigger once no more statuses are expected."""
    post = access_post(request.user, post_id)
    return render(
        request, "channel/_progress.html", {**_progress_context(post, request.user), "oob": True}
    )


def _run(
    request: HtmxHttpRequest, post: Post, step: Any, success: str, **kwargs: Any
) -> HttpResponse:
    """Run one action on ``post`` and go back to its page with the outcome as a message."""
    try:
        step(post, actor=request.user, **kwargs)
    except actions.PostActionRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, success)
    return redirect("channel:post", post.pk)


def _comment(request: HtmxHttpRequest) -> str:
    form = CommentForm(request.POST)
    form.is_valid()
    return str(form.cleaned_data.get("comment", "")).strip()


@staff_login_required
@require_POST
def submit(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_editing(request.user, post_id)
    return _run(
        request, post, actions.do_submit_for_approval, _("The post waits for approval now.")
    )


@staff_login_required
@require_POST
def approve(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_approval(request.user, post_id)
    return _run(
        request,
        post,
        actions.do_approve,
        _("The post is approved and goes out as planned."),
        comment=_comment(request),
        send_rest_after_limit=request.POST.get("send_rest_after_limit") == "on",
    )


@staff_login_required
@require_POST
def request_changes(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_approval(request.user, post_id)
    return _run(
        request,
        post,
        actions.do_request_changes,
        _("The post was sent back to its author with your comment."),
        comment=_comment(request),
    )


@staff_login_required
@require_http_methods(["GET", "POST"])
def send_urgent(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    """Confirm, then send an urgent alert at once without prior approval."""
    post = access_post_for_urgent_sending(request.user, post_id)
    if request.method == "POST":
        return _run(
            request,
            post,
            actions.do_send_urgent_now,
            _("The urgent alert is going out. Someone who approves posts reviews it afterwards."),
        )
    plan = audience.plan_audience(
        topics=post.topics.all(),
        kind=post.kind,
        template=sending_rule.audience_template(post),
        languages=post.versions.values_list("language", flat=True),
    )
    return render(
        request,
        "channel/send_urgent.html",
        {"post": post, "plan": plan, "title": queries.title_of(post)},
    )


@staff_login_required
@require_POST
def review_after(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_approval(request.user, post_id)
    return _run(
        request,
        post,
        actions.do_record_review_after,
        _("Your review of the urgent alert is recorded."),
        comment=_comment(request),
    )


@staff_login_required
@require_POST
def pause(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_sending_control(request.user, post_id)
    return _run(request, post, actions.do_pause, _("Sending is paused."))


@staff_login_required
@require_POST
def resume(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_sending_control(request.user, post_id)
    return _run(request, post, actions.do_resume, _("Sending goes on."))


@staff_login_required
@require_POST
def cancel(request: HtmxHttpRequest, post_id: int) -> HttpResponse:
    post = access_post_for_sending_control(request.user, post_id)
    return _run(request, post, actions.do_cancel, _("The post is cancelled; nothing more is sent."))
