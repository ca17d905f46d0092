"""The addresses of the app's pages that services put into what they send: a notice's link, an
attendance check's QR code, a certificate's verification address.

Services know no routes: the app, which owns them, builds one `Links` from PUBLIC_BASE_URL
(wxapp/config.py) and hands it in with the settings.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Links:
    learn: str  # the trainee's learning page (在线学习)
    exam: str  # the exam page
    attend_prefix: str  # a check's confirm page, before its token
    verify_prefix: str  # a certificate's public verification page, before its number

    def attend(self, token: str) -> str:
        return self.attend_prefix + token

    def verify(self, number: str) -> str:
        return self.verify_prefix + number
