from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from townhall.whatsapp.outbound import TEXT_MAX_CHARS


class StaffAuthenticationForm(AuthenticationForm):
    """Django's login form with browser hints for password managers."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


class ReplyForm(forms.Form):
    body = forms.CharField(
        label=_("Reply"),
        max_length=TEXT_MAX_CHARS,
        # Rendered by hand in staff/_reply_form.html.
        widget=forms.Textarea,
        error_messages={
            "required": _("Please write a message before sending."),
            "max_length": _(
                "WhatsApp allows at most %(limit_value)d characters per message "
                "(this one has %(show_value)d)."
            ),
        },
    )
