from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from townhall.audit.models import AuditEntry
from townhall.audit.queries import AuditFilter


class AuditFilterForm(forms.Form):
    actor_name = forms.ChoiceField(label=_("Who"), required=False)
    action = forms.ChoiceField(
        label=_("What"),
        required=False,
        choices=[("", _("All actions")), *AuditEntry.Action.choices],
    )
    day_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    day_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actor_names: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        actor_field = cast(forms.ChoiceField, self.fields["actor_name"])
        actor_field.choices = [
            ("", _("Everyone")),
            *((name, name) for name in actor_names),
        ]

    def audit_filter(self) -> AuditFilter:
        """The filter of a valid form; an invalid one filters nothing (errors are shown)."""
        if not self.is_valid():
            return AuditFilter()
        data = self.cleaned_data
        return AuditFilter(
            actor_name=data["actor_name"],
            action=data["action"],
            day_from=data["day_from"],
            day_to=data["day_to"],
        )
