"""Logging in: password (Django's view, throttled by django-axes), the second factor, the
start page, password reset by e-mail."""

from __future__ import annotations

import base64
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp import login as otp_login
from django_otp import match_token

from townhall.audit.actions import Action, do_audit
from townhall.staff.forms import StaffAuthenticationForm, TwoFactorCodeForm
from townhall.staff.two_factor import has_two_factor_device, pending_device, requires_two_factor


class LoginView(auth_views.LoginView):
    template_name = "staff/login.html"
    authentication_form = StaffAuthenticationForm
    redirect_authenticated_user = True


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' answer once too many logins failed (settings.AXES_*)."""
    minutes = round(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return render(
        request,
        "staff/login.html",
        {
            "form": StaffAuthenticationForm(request),
            "locked_out_message": _(
                "Too many failed logins. For your protection, logging in is blocked for "
                "%(minutes)d minutes. Please try again later or ask the administration."
            )
            % {"minutes": minutes},
            "next": request.POST.get("next", ""),
        },
        status=429,
    )


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login page: the staff login for visitors; signed-in users whom the
    admin refused (not staff) get 403 rather than a loop between the two logins."""
    if request.user.is_authenticated:
        raise PermissionDenied
    return redirect_to_login(request.GET.get("next") or reverse("admin:index"))


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("staff:home")


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """The second step of the login for users with an authenticator app."""
    user = request.user
    if not user.is_authenticated:
        return redirect("staff:login")
    if not has_two_factor_device(user):
        return redirect(f"{reverse('staff:two_factor_setup')}?next={_next_url(request)}")
    if user.is_verified():  # type: ignore[union-attr,attr-defined]
        return HttpResponseRedirect(_next_url(request))
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = match_token(user, form.cleaned_data["token"])
        if device is not None:
            otp_login(request, device)
            return HttpResponseRedirect(_next_url(request))
        do_audit(Action.TWO_FACTOR_FAILED, acting_user=user, target=user, request=request)
        form.add_error("token", _("This code is not right. Please enter the current code."))
    return render(
        request, "staff/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@never_cache
@sensitive_post_parameters("token")
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code, confirm with the first code."""
    user = request.user
    if not user.is_authenticated:
        return redirect("staff:login")
    if has_two_factor_device(user):
        if not user.is_verified():  # type: ignore[union-attr,attr-defined]
            return redirect(f"{reverse('staff:two_factor_verify')}?next={_next_url(request)}")
        return render(request, "staff/two_factor_active.html", {"next": _next_url(request)})
    device = pending_device(user)
    form = TwoFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            do_audit(Action.TWO_FACTOR_ENABLED, acting_user=user, target=user, request=request)
            messages.success(request, _("Two-factor login is set up."))
            return HttpResponseRedirect(_next_url(request))
        form.add_error("token", _("This code is not right. Please enter the current code."))
    qr_code = segno.make(device.config_url, error="m")
    return render(
        request,
        "staff/two_factor_setup.html",
        {
            "form": form,
            "next": _next_url(request),
            "qr_svg": qr_code.svg_inline(scale=5, title=_("QR code for the authenticator app")),
            "secret": base64.b32encode(device.bin_key).decode(),
            "is_required": requires_two_factor(user),
        },
    )


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "staff/password_reset.html"
    email_template_name = "staff/password_reset_email.txt"
    subject_template_name = "staff/password_reset_subject.txt"
    success_url = reverse_lazy("staff:password_reset_done")
    extra_email_context = {"city_name": settings.CITY["NAME"]}

    def form_valid(self, form: Any) -> HttpResponse:
        # Recorded without the address: whether it belongs to an account stays unknown.
        do_audit(Action.PASSWORD_RESET_REQUESTED, request=self.request)
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "staff/password_reset_confirm.html"
    success_url = reverse_lazy("staff:password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        do_audit(
            Action.PASSWORD_RESET, acting_user=form.user, target=form.user, request=self.request
        )
        return response
