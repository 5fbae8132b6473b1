"""Meta's error codes become the classes business code branches on."""

import pytest
from pywa import errors as pywa_errors

from townhall.whatsapp import errors
from townhall.whatsapp.errors import error_from_payload


@pytest.mark.parametrize(
    ("code", "error_class", "is_retryable"),
    [
        (130429, errors.ThroughputLimited, True),
        (131057, errors.ThroughputLimited, True),
        (131056, errors.PairRateLimited, True),
        (131047, errors.OutsideServiceWindow, False),
        (131026, errors.Undeliverable, False),
        (131048, errors.SpamRateLimited, False),
        (131049, errors.MarketingLimited, False),
        (190, errors.AuthError, False),
        (0, errors.AuthError, False),
        (10, errors.AuthError, False),
        (200, errors.AuthError, False),
        (299, errors.AuthError, False),
        (131000, errors.TransientServerError, True),
        (131016, errors.TransientServerError, True),
        (132001, errors.TemplateError, False),
        (132000, errors.TemplateError, False),
        (131053, errors.MediaError, False),
        (100, errors.InvalidRequest, False),
        (131051, errors.InvalidRequest, False),
        (368, errors.AccountRestricted, False),
    ],
)
def test_meta_code_maps_to_typed_error(code, error_class, is_retryable):
    error = error_from_payload(
        {"message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "AbC"},
        http_status=400,
    )

    assert type(error) is error_class
    assert error.code == code
    assert error.is_retryable is is_retryable
    assert error.fbtrace_id == "AbC"


@pytest.mark.parametrize(
    ("http_status", "error_class"),
    [
        (500, errors.TransientServerError),
        (502, errors.TransientServerError),
        (503, errors.TransientServerError),
        (401, errors.AuthError),
        (429, errors.ThroughputLimited),
        (400, errors.CloudAPIError),
    ],
)
def test_unknown_code_falls_back_on_http_status(http_status, error_class):
    error = error_from_payload({"message": "?", "code": 987654}, http_status=http_status)

    assert type(error) is error_class


def test_webhook_error_item_keeps_details_and_title():
    error = error_from_payload(
        {
            "code": 131047,
            "title": "Re-engagement message",
            "error_data": {"details": "Message failed to send because more than 24 hours"},
        }
    )

    assert isinstance(error, errors.OutsideServiceWindow)
    assert error.message == "Re-engagement message"
    assert error.details.startswith("Message failed to send")


def test_non_numeric_code_is_a_generic_error():
    error = error_from_payload({"message": "odd", "code": "abc"}, http_status=400)

    assert type(error) is errors.CloudAPIError
    assert error.code is None


# pywa (a maintained Cloud API library) is our independent oracle: where it classifies a
# code, our class must belong to the same family.
@pytest.mark.parametrize(
    ("code", "our_class", "pywa_class"),
    [
        (130429, errors.ThroughputLimited, pywa_errors.ThrottlingError),
        (131056, errors.PairRateLimited, pywa_errors.TooManyMessages),
        (131048, errors.SpamRateLimited, pywa_errors.SpamRateLimitHit),
        (131047, errors.OutsideServiceWindow, pywa_errors.ReEngagementMessage),
        (131026, errors.Undeliverable, pywa_errors.MessageUndeliverable),
        (190, errors.AuthError, pywa_errors.AuthorizationError),
        (10, errors.AuthError, pywa_errors.AuthorizationError),
        (132001, errors.TemplateError, pywa_errors.TemplateNotExists),
        (131031, errors.AccountRestricted, pywa_errors.IntegrityError),
    ],
)
def test_classification_agrees_with_pywa(code, our_class, pywa_class):
    pywa_error = pywa_errors.WhatsAppError.from_dict({"code": code, "message": "m"})

    assert isinstance(pywa_error, pywa_class)
    assert type(error_from_payload({"code": code, "message": "m"})) is our_class
