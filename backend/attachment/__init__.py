"""Attachment to a clinic (прикрепление к МО): the patient's clinic, area and doctor; applications to change it."""
