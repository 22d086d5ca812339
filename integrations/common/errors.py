"""The error hierarchy every upstream adapter shares.

An integration's errors are thin subclasses of these, keeping their own names, stable ``code`` and Russian
``user_message`` (the domains catch them by name), e.g.::

    class ErzlError(UpstreamError):
        code = "erzl.error"
        user_message = "Сервис ОМС не смог обработать запрос. Попробуйте позже."

    class ErzlRefusal(ErzlError, UpstreamRefusal): ...
    class ErzlTransportError(ErzlError, UpstreamTransportError): ...
    class ErzlTimeout(ErzlTransportError, UpstreamTimeout): ...

An integration's base must not set ``retryable`` itself: it comes from the shared class of the kind
(``UpstreamTransportError`` and below are retryable, the rest not). Code that does not care which upstream
failed may catch the shared classes (``except UpstreamTimeout``).
"""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of everything an upstream adapter raises."""

    retryable: bool = False
    code: str = "upstream.error"
    user_message: str = "Внешний сервис не смог обработать запрос. Попробуйте позже."


class UpstreamRefusal(UpstreamError):
    """A business answer of the upstream: ``upstream_code`` (a string, or the number of a SOAP ``ErrorList``) and
    its message as sent."""

    code = "upstream.refused"
    user_message = "Запрос не принят внешним сервисом."

    def __init__(self, upstream_code: str | int, message: str) -> None:
        super().__init__(f"[{upstream_code}] {message}")
        self.upstream_code = upstream_code
        self.message = message


class UpstreamTransportError(UpstreamError):
    """The upstream gave no usable answer; the call may be retried."""

    retryable = True
    code = "upstream.unavailable"
    user_message = "Внешний сервис сейчас недоступен, ничего не отправлено. Повторите попытку позже."


class UpstreamTimeout(UpstreamTransportError):
    """No reply within the client's deadline."""

    code = "upstream.timeout"


class UpstreamMalformedReply(UpstreamTransportError):
    """The reply cannot be read as the contract's message."""

    code = "upstream.malformed_reply"


class UpstreamUnavailable(UpstreamTransportError):
    """HTTP error status or connection failure."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
