"""Signed links that need no login: an attendee's recap answers and one-click unsubscribe.

A token is the signed, URL-safe form of a few ids (`itsdangerous`, HMAC-SHA256 keyed by
`SECRET_KEY` with a salt per purpose, compared in constant time), so a link cannot be edited to
reach another person, and a link made for one purpose is refused by the other. Recap links
expire; unsubscribe links do not, because a mailbox provider may use one months later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

RECAP_LINK_LIFETIME = timedelta(days=90)
_RECAP_SALT = "roomwise.recap-link.v1"
_UNSUBSCRIBE_SALT = "roomwise.unsubscribe.v1"


class BadLink(ValueError):
    """The token was tampered with, made for another purpose, or has expired."""


@dataclass(frozen=True)
class RecapLink:
    """Whose recap, about which gathering: what every `/me/…` page acts on."""

    person_id: int
    gathering_id: int


@dataclass(frozen=True)
class UnsubscribeLink:
    """The ledger row of the message the link came in: its organizer and recipient are the
    address and sender to part. Only the id travels, so the link does not show the address."""

    message_id: int


class LinkSigner:
    """Makes and reads the signed links in emails, absolute under `PUBLIC_BASE_URL`."""

    def __init__(self, secret_key: str, public_base_url: str) -> None:
        self._recap = URLSafeTimedSerializer(secret_key, salt=_RECAP_SALT)
        self._unsubscribe = URLSafeSerializer(secret_key, salt=_UNSUBSCRIBE_SALT)
        self._base = public_base_url.rstrip("/")

    # --- recap pages (/me/…) ---

    def recap_token(self, link: RecapLink) -> str:
        return str(self._recap.dumps([link.person_id, link.gathering_id]))

    def read_recap(self, token: str) -> RecapLink:
        try:
            person_id, gathering_id = self._recap.loads(
                token, max_age=int(RECAP_LINK_LIFETIME.total_seconds())
            )
        except (BadSignature, ValueError, TypeError) as error:
            raise BadLink(str(error)) from error
        if not isinstance(person_id, int) or not isinstance(gathering_id, int):
            raise BadLink("malformed recap link")
        return RecapLink(person_id, gathering_id)

    def recap_url(self, link: RecapLink, action: str = "") -> str:
        """The page for one answer (`outcome`, `talked`, `leave`), or the recap page itself."""
        return self.recap_token_url(self.recap_token(link), action)

    def recap_token_url(self, token: str, action: str = "") -> str:
        """`recap_url` for a token already made: an email's links share one (signing is most
        of what a link costs)."""
        suffix = f"/{action}" if action else ""
        return f"{self._base}/me/{token}{suffix}"

    # --- unsubscribe (/u/…) ---

    def unsubscribe_token(self, link: UnsubscribeLink) -> str:
        return str(self._unsubscribe.dumps([link.message_id]))

    def read_unsubscribe(self, token: str) -> UnsubscribeLink:
        try:
            [message_id] = self._unsubscribe.loads(token)
        except (BadSignature, ValueError, TypeError) as error:
            raise BadLink(str(error)) from error
        if not isinstance(message_id, int):
            raise BadLink("malformed unsubscribe link")
        return UnsubscribeLink(message_id)

    def unsubscribe_url(self, link: UnsubscribeLink) -> str:
        return self.unsubscribe_token_url(self.unsubscribe_token(link))

    def unsubscribe_mailto(self, mailbox: str, link: UnsubscribeLink) -> str:
        """The `mailto:` form RFC 2369 asks for next to the https link."""
        return self.unsubscribe_token_mailto(mailbox, self.unsubscribe_token(link))

    def unsubscribe_token_url(self, token: str) -> str:
        return f"{self._base}/u/{token}"

    def unsubscribe_token_mailto(self, mailbox: str, token: str) -> str:
        return f"mailto:{mailbox}?subject={quote(f'unsubscribe {token}')}"
