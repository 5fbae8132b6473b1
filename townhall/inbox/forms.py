"""Parsing what staff send to the inbox pages. The templates render the fields by hand."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from townhall.inbox.access import assignable_users
from townhall.inbox.models import Conversation, Label, Team
from townhall.inbox.queries import SEARCH_MAX_CHARS, InboxView, ListFilters
from townhall.whatsapp.outbound import (
    BUTTON_MAX_COUNT,
    BUTTON_TITLE_MAX_CHARS,
    INTERACTIVE_BODY_MAX_CHARS,
    LIST_BUTTON_MAX_CHARS,
    LIST_MAX_ROWS,
    ROW_TITLE_MAX_CHARS,
)

# Notes are for colleagues; a page of text is plenty.
NOTE_MAX_CHARS = 5000


class ListFilterForm(forms.Form):
    """The list's query parameters. Tolerant: a bad value falls back to its default."""

    view = forms.ChoiceField(choices=[(view.value, view.value) for view in InboxView])
    team = forms.IntegerField(min_value=1)
    label = forms.IntegerField(min_value=1)
    state = forms.ChoiceField(choices=Conversation.State.choices)
    q = forms.CharField()
    page = forms.IntegerField(min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def filters(self) -> ListFilters:
        self.is_valid()
        values = self.cleaned_data
        return ListFilters(
            view=InboxView(values.get("view") or InboxView.ALL),
            team_id=values.get("team"),
            label_id=values.get("label"),
            state=values.get("state") or "",
            search=(values.get("q") or "")[:SEARCH_MAX_CHARS],
        )

    def page_number(self) -> int:
        self.is_valid()
        return self.cleaned_data.get("page") or 1


# Far above any WhatsApp message: only stops absurd posts. The real limit (4,096 with the
# signature) is checked by ``inbox.actions.do_reply``, which keeps the text and says by how
# much it is too long instead of cutting it.
REPLY_INPUT_MAX_CHARS = 50_000


def _normalize_newlines(text: str) -> str:
    # Browsers send line breaks as CR LF; the citizen gets (and the counter counts) LF.
    return text.replace("\r\n", "\n")


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=_("Reply"),
        max_length=REPLY_INPUT_MAX_CHARS,
        error_messages={
            "required": _("Please write a message before sending."),
            "max_length": _(
                "Not sent: the text has %(show_value)d characters, WhatsApp allows at most "
                "4096 per message."
            ),
        },
    )

    def clean_text(self) -> str:
        return _normalize_newlines(self.cleaned_data["text"])


class PreviewForm(forms.Form):
    text = forms.CharField(required=False, max_length=REPLY_INPUT_MAX_CHARS)

    def clean_text(self) -> str:
        return _normalize_newlines(self.cleaned_data["text"])


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Internal note"),
        max_length=NOTE_MAX_CHARS,
        error_messages={"required": _("Please write the note first.")},
    )


class AssignForm(forms.Form):
    assignee: forms.ModelChoiceField[Any] = forms.ModelChoiceField(queryset=None, required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Evaluated per form: who may be assigned is the access layer's decision.
        self.fields["assignee"].queryset = assignable_users()  # type: ignore[attr-defined]


class StateForm(forms.Form):
    state = forms.ChoiceField(choices=Conversation.State.choices)


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(choices=Conversation.Priority.choices, coerce=int)


class LabelsForm(forms.Form):
    labels = forms.ModelMultipleChoiceField(queryset=Label.objects.all(), required=False)


class ChoicesForm(forms.Form):
    """A reply with reply buttons or a list, checked against WhatsApp's limits."""

    KIND_BUTTONS = "buttons"
    KIND_LIST = "list"

    text = forms.CharField(
        label=_("Question"),
        max_length=INTERACTIVE_BODY_MAX_CHARS,
        error_messages={
            "required": _("Please write the question above the choices."),
            "max_length": _(
                "WhatsApp allows at most %(limit_value)d characters above buttons or a list "
                "(this one has %(show_value)d)."
            ),
        },
    )
    kind = forms.ChoiceField(
        label=_("Form"),
        choices=[(KIND_BUTTONS, _("Reply buttons (up to 3)")), (KIND_LIST, _("List (up to 10)"))],
    )
    choices = forms.CharField(label=_("Choices, one per line"), widget=forms.Textarea)
    list_button = forms.CharField(label=_("Label of the list button"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        lines = [line.strip() for line in (data.get("choices") or "").splitlines()]
        choices = [line for line in lines if line]
        if kind is None or "choices" not in data:
            return data
        if kind == self.KIND_BUTTONS:
            limit, title_limit = BUTTON_MAX_COUNT, BUTTON_TITLE_MAX_CHARS
        else:
            limit, title_limit = LIST_MAX_ROWS, ROW_TITLE_MAX_CHARS
        if not 1 <= len(choices) <= limit:
            self.add_error(
                "choices",
                _("WhatsApp allows 1 to %(limit)d choices here (you wrote %(count)d).")
                % {"limit": limit, "count": len(choices)},
            )
        too_long = [choice for choice in choices if len(choice) > title_limit]
        if too_long:
            self.add_error(
                "choices",
                _("Each choice may have at most %(limit)d characters: %(choices)s")
                % {"limit": title_limit, "choices": ", ".join(too_long)},
            )
        if len(set(choices)) != len(choices):
            self.add_error("choices", _("Each choice may appear only once."))
        if kind == self.KIND_LIST:
            button = (data.get("list_button") or "").strip()
            if not button:
                self.add_error("list_button", _("A list needs a label for its button."))
            elif len(button) > LIST_BUTTON_MAX_CHARS:
                self.add_error(
                    "list_button",
                    _("The list button may have at most %(limit)d characters.")
                    % {"limit": LIST_BUTTON_MAX_CHARS},
                )
            data["list_button"] = button
        data["choice_list"] = choices
        return data


class ReactForm(forms.Form):
    message = forms.IntegerField(min_value=1)
    emoji = forms.CharField(required=False, max_length=16)
