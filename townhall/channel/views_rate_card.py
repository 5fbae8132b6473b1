"""The rate card page: Meta's prices per message as the cost estimate uses them."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from townhall.channel import pricing
from townhall.channel.access import (
    access_price_for_editing,
    access_rate_card,
    access_rate_card_for_editing,
    can_edit_rate_card,
)
from townhall.channel.forms import MessagePriceForm
from townhall.channel.models import MessagePrice
from townhall.core import clock
from townhall.web.http import HtmxHttpRequest, staff_login_required


@staff_login_required
@require_GET
def rate_card(request: HtmxHttpRequest) -> HttpResponse:
    access_rate_card(request.user)
    today = clock.today()
    in_force_ids = {price.pk for price in pricing.prices_in_force(today).values()}
    prices = list(MessagePrice.objects.all())
    return render(
        request,
        "channel/rate_card.html",
        {
            "prices": prices,
            "in_force_ids": in_force_ids,
            "today": today,
            "can_edit": can_edit_rate_card(request.user),
            "form": MessagePriceForm(initial={"valid_from": today, "currency": "EUR"}),
        },
    )


@staff_login_required
@require_POST
def price_add(request: HtmxHttpRequest) -> HttpResponse:
    access_rate_card_for_editing(request.user)
    form = MessagePriceForm(request.POST)
    if form.is_valid():
        pricing.do_save_message_price(form.save(commit=False), acting_user=request.user)
        messages.success(request, _("The price was added to the rate card."))
        return redirect("channel:rate_card")
    return render(request, "channel/price_edit.html", {"form": form, "price": None}, status=400)


@staff_login_required
@require_http_methods(["GET", "POST"])
def price_edit(request: HtmxHttpRequest, price_id: int) -> HttpResponse:
    price = access_price_for_editing(request.user, price_id)
    form = MessagePriceForm(request.POST or None, instance=price)
    if form.is_bound and form.is_valid():
        pricing.do_save_message_price(form.save(commit=False), acting_user=request.user)
        messages.success(request, _("The price was changed."))
        return redirect("channel:rate_card")
    status = 400 if form.is_bound else 200
    return render(request, "channel/price_edit.html", {"form": form, "price": price}, status=status)


@staff_login_required
@require_POST
def price_delete(request: HtmxHttpRequest, price_id: int) -> HttpResponse:
    price = access_price_for_editing(request.user, price_id)
    pricing.do_delete_message_price(price, acting_user=request.user)
    messages.success(request, _("The price was removed from the rate card."))
    return redirect("channel:rate_card")
