"""``SmtpSender``: a ``send_verification_request`` that mails codes through an SMTP server.

>>> Email(id="password-reset", send_verification_request=SmtpSender(
...     host="smtp.example.com", port=587, from_address="My App <no-reply@example.com>",
...     starttls=True, username="app", password=os.environ["SMTP_PASSWORD"]))

The message is plain text holding the code and the sign-in link; ``subject`` and
``body`` are format strings over ``code``, ``url``, ``minutes`` and ``identifier``. It runs
in the ``auth:signIn`` action (network I/O is allowed there), on a worker thread so the
event loop keeps serving while the server answers.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from pyconvex.auth.library.providers import VerificationRequest

DEFAULT_SUBJECT = "Your sign-in code: {code}"
DEFAULT_BODY = (
    "Your code is {code}\n\nOr open this link to continue: {url}\n\n"
    "It expires in {minutes} minutes. If you did not ask for it, ignore this email.\n"
)


@dataclass
class SmtpSender:
    host: str
    port: int = 25
    from_address: str = "no-reply@localhost"
    subject: str = DEFAULT_SUBJECT
    body: str = DEFAULT_BODY
    starttls: bool = False
    use_tls: bool = False
    username: str | None = None
    password: str | None = None
    timeout_s: float = 30.0

    async def __call__(self, request: VerificationRequest, ctx: Any) -> None:
        minutes = max(1, round((request.expires_ms - ctx.now()) / 60_000))
        fields = {"code": request.token, "url": request.url, "minutes": minutes,
                  "identifier": request.identifier}
        message = EmailMessage()
        message["From"] = self.from_address
        message["To"] = request.identifier
        message["Subject"] = self.subject.format(**fields)
        message.set_content(self.body.format(**fields))
        await asyncio.to_thread(self._send, message)

    def _send(self, message: EmailMessage) -> None:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.use_tls:
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        with smtp:
            if self.starttls:
                smtp.starttls(context=context)
            if self.username is not None:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
