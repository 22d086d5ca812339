"""SMS gateways (SMSC.ru, a Twilio-shaped API) behind one :class:`SmsGateway` protocol, plus simulators.

The notifications layer depends on :mod:`integrations.sms.protocol` only; which gateway it gets and
whether that gateway talks to the real provider or to its simulator is decided by settings (the
gateway's ``base_url``; ``inprocess://…`` selects the simulator in :mod:`integrations.sms.simulator`).
"""

from integrations.sms.phones import InvalidPhone, normalise_phone
from integrations.sms.protocol import (
    SmsError,
    SmsGateway,
    SmsMessageNotFound,
    SmsRejected,
    SmsSendResult,
    SmsStatus,
    SmsTemporaryError,
)
from integrations.sms.smsc import SmscSmsGateway
from integrations.sms.twilio import (
    TwilioSmsGateway,
    TwilioStatusCallback,
    parse_twilio_status_callback,
    verify_twilio_signature,
)

__all__ = [
    "InvalidPhone",
    "SmsError",
    "SmsGateway",
    "SmsMessageNotFound",
    "SmsRejected",
    "SmsSendResult",
    "SmsStatus",
    "SmsTemporaryError",
    "SmscSmsGateway",
    "TwilioSmsGateway",
    "TwilioStatusCallback",
    "normalise_phone",
    "parse_twilio_status_callback",
    "verify_twilio_signature",
]
