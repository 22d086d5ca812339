"""The two ways a SOAP 1.1 exchange fails before its method result is read, shared by every SOAP codec
(``integrations/fer/soap.py`` raises them, :func:`integrations.common.http.post_soap` maps them)."""

from __future__ import annotations


class SoapMalformed(ValueError):
    """The bytes are not the SOAP message expected."""


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
