"""The two ways a SOAP 1.1 exchange fails before its method result is read, shared by every SOAP codec
(``integrations/fer/soap.py`` raises them, :func:`integrations.common.http.post_soap` maps them), and the
business error a SOAP simulator's handler raises (:func:`integrations.common.simulator.handle_soap` answers it)."""

from __future__ import annotations

from enum import IntEnum


class SoapMalformed(ValueError):
    """The bytes are not the SOAP message expected."""


class SoapFault(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SoapBusinessError(Exception):
    """Raised inside a SOAP simulator's handler; becomes an ``ErrorList`` entry of the reply."""

    def __init__(self, code: IntEnum, detail: str | None = None) -> None:
        super().__init__(f"{code.name}: {detail}")
        self.code = code
        self.detail = detail
