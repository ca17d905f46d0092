"""The addresses of the app's pages that services and handlers put into what they send: a notice's
link, an attendance check's QR code, a certificate's verification address, the chat's links.

Services and handlers know no routes: the app, which owns them, builds one `Links` from
PUBLIC_BASE_URL (wxapp/config.py) and hands it in with the settings and the handlers' context.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Links:
    learn: str  # the trainee's learning page (在线学习)
    exam: str  # the exam page
    bind: str  # 认证登录 (binding a WeChat to a trainee)
    certificates: str  # the trainee's hours certificates (我的学时证明)
    attend_prefix: str  # a check's confirm page, before its token
    verify_prefix: str  # a certificate's public verification page, before its number

    def attend(self, token: str) -> str:
        return self.attend_prefix + token

    def verify(self, number: str) -> str:
        return self.verify_prefix + number
