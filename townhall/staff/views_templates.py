"""Staff pages for message templates: the list with Meta's review status, writing a draft
with live rule checks and a phone preview, submitting it to Meta and syncing statuses.

Reading is open to every staff user; writing, submitting and syncing need
``whatsapp.manage_templates`` (see ``access.py``). The rules live in
``whatsapp/templates.py``, the writes in ``whatsapp/template_actions.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from townhall.staff.access import (
    access_template,
    access_template_management,
    access_templates,
)
from townhall.web.http import HtmxHttpRequest, staff_login_required
from townhall.whatsapp.errors import CloudAPIError
from townhall.whatsapp.models import MessageTemplate
from townhall.whatsapp.template_actions import (
    EDITABLE_STATUSES,
    TemplateInvalid,
    TemplateNotEditable,
    do_save_template_draft,
    do_submit_template,
    do_sync_templates,
)
from townhall.whatsapp.templates import (
    check_template,
    explain_reason,
    fill_parameters,
    url_button_is_dynamic,
)

logger = logging.getLogger(__name__)

STATUS_BADGES: dict[str, str] = {
    MessageTemplate.Status.DRAFT: "draft",
    MessageTemplate.Status.PENDING: "pending",
    MessageTemplate.Status.APPROVED: "approved",
    MessageTemplate.Status.REJECTED: "rejected",
    MessageTemplate.Status.PAUSED: "rejected",
    MessageTemplate.Status.DISABLED: "rejected",
}


class TemplateForm(forms.Form):
    """A template as staff write it: one link button and up to ten quick replies cover
    what the city sends (a post's "Mehr lesen", yes/no answers)."""

    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=512,
        help_text=gettext_lazy(
            "Lowercase letters, digits and underscores, e.g. info_kanal_beitrag."
        ),
    )
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)
    category = forms.ChoiceField(
        label=gettext_lazy("Category"),
        choices=[
            (MessageTemplate.Category.UTILITY, gettext_lazy("Utility (information, alerts)")),
            (MessageTemplate.Category.MARKETING, gettext_lazy("Marketing (events, offers)")),
        ],
    )
    header_format = forms.ChoiceField(
        label=gettext_lazy("Header"),
        choices=MessageTemplate.HeaderFormat.choices,
        required=False,
    )
    header_text = forms.CharField(label=gettext_lazy("Header text"), required=False)
    header_example = forms.CharField(
        label=gettext_lazy("Example for the header parameter"), required=False
    )
    header_media_link = forms.CharField(
        label=gettext_lazy("Sample image or document (https link)"), required=False
    )
    body = forms.CharField(
        label=gettext_lazy("Text"),
        widget=forms.Textarea(attrs={"rows": 7}),
        required=False,
        help_text=gettext_lazy(
            "Parameters are written {{1}}, {{2}}; *bold*, _italic_ and ~strike~ as in WhatsApp."
        ),
    )
    body_examples = forms.CharField(
        label=gettext_lazy("Examples for the parameters (one per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    footer = forms.CharField(label=gettext_lazy("Footer"), required=False)
    link_text = forms.CharField(label=gettext_lazy("Link button text"), required=False)
    link_url = forms.CharField(
        label=gettext_lazy("Link address"),
        required=False,
        help_text=gettext_lazy("https://… ; may end with {{1}} for a variable end (the post)."),
    )
    link_example = forms.CharField(
        label=gettext_lazy("Example for the variable end of the link"), required=False
    )
    quick_replies = forms.CharField(
        label=gettext_lazy("Quick-reply buttons (one per line)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )
    message_send_ttl_seconds = forms.IntegerField(
        label=gettext_lazy("Time to live (seconds)"),
        required=False,
        min_value=1,
        help_text=gettext_lazy(
            "Undelivered after this time, the message is dropped (utility: 30 to 43,200). "
            "Empty: Meta's default of 30 days."
        ),
    )

    def __init__(self, *args: Any, template: MessageTemplate | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.template = template

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        name, language = cleaned.get("name"), cleaned.get("language")
        others = MessageTemplate.objects.filter(name=name, language=language)
        if self.template is not None:
            others = others.exclude(pk=self.template.pk)
        if name and others.exists():
            raise forms.ValidationError(_("A template with this name and language exists already."))
        return cleaned

    def template_values(self) -> dict[str, Any]:
        """The MessageTemplate fields the form describes (after ``is_valid``)."""
        data = self.cleaned_data
        buttons: list[dict[str, Any]] = []
        if data.get("link_text") or data.get("link_url"):
            link: dict[str, Any] = {
                "type": "url",
                "text": data.get("link_text", "").strip(),
                "url": data.get("link_url", "").strip(),
            }
            if data.get("link_example", "").strip():
                link["example"] = data["link_example"].strip()
            buttons.append(link)
        buttons += [
            {"type": "quick_reply", "text": line.strip()}
            for line in data.get("quick_replies", "").splitlines()
            if line.strip()
        ]
        return {
            "name": data.get("name", "").strip(),
            "language": data.get("language", ""),
            "category": data.get("category", ""),
            "header_format": data.get("header_format", ""),
            "header_text": data.get("header_text", "").strip(),
            "header_example": data.get("header_example", "").strip(),
            "header_media_link": data.get("header_media_link", "").strip(),
            "body": data.get("body", "").replace("\r\n", "\n").strip(),
            "body_examples": [
                line.strip() for line in data.get("body_examples", "").splitlines() if line.strip()
            ],
            "footer": data.get("footer", "").strip(),
            "buttons": buttons,
            "message_send_ttl_seconds": data.get("message_send_ttl_seconds"),
        }

    @staticmethod
    def initial_for(template: MessageTemplate) -> dict[str, Any]:
        link: dict[str, Any] = next((b for b in template.buttons if b.get("type") == "url"), {})
        return {
            "name": template.name,
            "language": template.language,
            "category": template.category,
            "header_format": template.header_format,
            "header_text": template.header_text,
            "header_example": template.header_example,
            "header_media_link": template.header_media_link,
            "body": template.body,
            "body_examples": "\n".join(str(value) for value in template.body_examples),
            "footer": template.footer,
            "link_text": link.get("text", ""),
            "link_url": link.get("url", ""),
            "link_example": link.get("example", ""),
            "quick_replies": "\n".join(
                b.get("text", "") for b in template.buttons if b.get("type") == "quick_reply"
            ),
            "message_send_ttl_seconds": template.message_send_ttl_seconds,
        }


def _can_manage(user: Any) -> bool:
    try:
        access_template_management(user)
    except PermissionDenied:
        return False
    return True


def _preview(template: MessageTemplate) -> dict[str, Any]:
    """What the phone shows for the template with its examples filled in."""
    examples = [str(value) for value in template.body_examples]
    buttons = []
    for button in template.buttons:
        url = str(button.get("url", ""))
        if url_button_is_dynamic(button):
            url = url.replace("{{1}}", str(button.get("example", "")))
        buttons.append({"type": button.get("type"), "text": button.get("text", ""), "url": url})
    header_text = template.header_text
    if template.header_example:
        header_text = fill_parameters(header_text, [template.header_example])
    return {
        "header_format": template.header_format,
        "header_text": header_text,
        "header_media_link": template.header_media_link,
        "body": fill_parameters(template.body, examples),
        "footer": template.footer,
        "buttons": buttons,
    }


def _problems_and_preview(form: TemplateForm) -> tuple[list[str], dict[str, Any] | None]:
    if not form.is_valid():
        problems = [str(error) for errors in form.errors.values() for error in errors]
        return problems, None
    unsaved = MessageTemplate(**form.template_values())
    return check_template(unsaved), _preview(unsaved)


@staff_login_required
@require_GET
def template_list(request: HtmxHttpRequest) -> HttpResponse:
    access_templates(request.user)
    templates = list(MessageTemplate.objects.order_by("name", "language"))
    rows = [
        {
            "template": template,
            "badge": STATUS_BADGES.get(template.status, "draft"),
            "reason": explain_reason(template.status_reason) if template.status_reason else "",
        }
        for template in templates
    ]
    return render(
        request,
        "staff/templates_list.html",
        {"rows": rows, "can_manage": _can_manage(request.user)},
    )


@staff_login_required
@require_http_methods(["GET", "POST"])
def template_new(request: HtmxHttpRequest) -> HttpResponse:
    access_template_management(request.user)
    if request.method == "POST":
        form = TemplateForm(request.POST)
        if form.is_valid():
            template = do_save_template_draft(None, form.template_values(), actor=request.user)
            messages.success(request, _("The draft is saved."))
            return redirect("staff:template_detail", template.pk)
    else:
        form = TemplateForm(
            initial={"language": "de", "category": MessageTemplate.Category.UTILITY}
        )
    problems, preview = _problems_and_preview(form) if form.is_bound else ([], None)
    return render(
        request,
        "staff/templates_edit.html",
        {"form": form, "template": None, "problems": problems, "preview": preview},
    )


@staff_login_required
@require_http_methods(["GET", "POST"])
def template_detail(request: HtmxHttpRequest, template_id: int) -> HttpResponse:
    template = access_template(request.user, template_id)
    can_manage = _can_manage(request.user)
    is_editable = can_manage and template.status in EDITABLE_STATUSES
    if request.method == "POST":
        access_template_management(request.user)
        form = TemplateForm(request.POST, template=template)
        if form.is_valid():
            try:
                template = do_save_template_draft(
                    template, form.template_values(), actor=request.user
                )
            except TemplateNotEditable as error:
                messages.error(request, str(error))
            else:
                messages.success(request, _("The draft is saved."))
            return redirect("staff:template_detail", template.pk)
        problems, preview = _problems_and_preview(form)
    else:
        form = TemplateForm(initial=TemplateForm.initial_for(template), template=template)
        problems, preview = check_template(template), _preview(template)
    return render(
        request,
        "staff/templates_edit.html",
        {
            "form": form,
            "template": template,
            "badge": STATUS_BADGES.get(template.status, "draft"),
            "reason": explain_reason(template.status_reason) if template.status_reason else "",
            "problems": problems,
            "preview": preview,
            "is_editable": is_editable,
            "can_manage": can_manage,
        },
    )


@staff_login_required
@require_POST
def template_check(request: HtmxHttpRequest) -> HttpResponse:
    """The live check of the form while staff type (HTMX): rule problems and preview."""
    access_template_management(request.user)
    template = None
    if request.POST.get("template_id", "").isdigit():
        template = access_template(request.user, int(request.POST["template_id"]))
    form = TemplateForm(request.POST, template=template)
    problems, preview = _problems_and_preview(form)
    return render(request, "staff/_template_check.html", {"problems": problems, "preview": preview})


@staff_login_required
@require_POST
def template_submit(request: HtmxHttpRequest, template_id: int) -> HttpResponse:
    access_template_management(request.user)
    template = access_template(request.user, template_id)
    try:
        template = do_submit_template(template, actor=request.user)
    except TemplateInvalid as error:
        messages.error(
            request,
            _("Not submitted; first fix: %(problems)s") % {"problems": " ".join(error.problems)},
        )
    except TemplateNotEditable as error:
        messages.error(request, str(error))
    except CloudAPIError:
        template.refresh_from_db()
        messages.error(
            request,
            _("Meta did not accept the template: %(reason)s") % {"reason": template.status_reason},
        )
    else:
        messages.success(
            request,
            _("Submitted to Meta. Status: %(status)s.") % {"status": template.get_status_display()},
        )
    return redirect("staff:template_detail", template.pk)


@staff_login_required
@require_POST
def template_sync(request: HtmxHttpRequest) -> HttpResponse:
    access_template_management(request.user)
    try:
        counts = do_sync_templates()
    except CloudAPIError as error:
        logger.warning("staff.template_sync_failed class=%s", type(error).__name__)
        messages.error(request, _("Meta could not be reached; please try again later."))
    else:
        messages.success(
            request,
            _(
                "Synchronised with Meta: %(updated)d changed, %(imported)d new, "
                "%(gone)d no longer at Meta."
            )
            % counts,
        )
    return redirect("staff:templates")
