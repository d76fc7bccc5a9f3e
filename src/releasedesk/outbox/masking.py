"""What staff previews may show of a message body: portal sign-in links are masked.

A sign-in message (`MessageKind.SIGN_IN`) carries a one-time credential: whoever holds the
link signs in as the contact. The staff outbox page and the API show the body with every
portal sign-in URL replaced by "(sign-in link hidden)". The masking applies to every kind (a
sign-in URL never belongs in a staff preview), and the stored body of a finished sign-in
message is scrubbed anyway (`releasedesk.portal.services.scrub_sign_in_messages`).
"""

from __future__ import annotations

import re

from releasedesk.outbox.models import Message

HIDDEN = "(sign-in link hidden)"

# `<anything>/portal/login/link/<token>/` (the path of `portal:link`), absolute or not.
_LINK = r"(?:https?://[^\s\"'<>]*)?/portal/login/link/[^\s\"'<>/]+/?"
_URL = re.compile(_LINK)
# The HTML body turns URLs into `<a href="URL">URL</a>` (escaped): hide the whole anchor.
_ANCHOR = re.compile(r"<a\s[^>]*href=\"" + _LINK + r"\"[^>]*>.*?</a>", re.DOTALL)


def mask_text(text: str) -> str:
    return _URL.sub(HIDDEN, text)


def mask_html(text: str) -> str:
    return _URL.sub(HIDDEN, _ANCHOR.sub(HIDDEN, text))


def preview_text(message: Message) -> str:
    """The text body as staff may see it."""
    return mask_text(message.body_text)


def preview_html(message: Message) -> str:
    """The HTML body as staff may see it."""
    return mask_html(message.body_html)
