from __future__ import annotations

from django.db import models


class ConsentState(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    OPTED_OUT = "opted_out", "Opted out"
    POSTPONED = "postponed", "Postponement proposed"
    NO_RESPONSE = "no_response", "No response"


# States that are a customer's (or staff's) decision: a consent is decided once.
DECIDED: frozenset[str] = frozenset({"approved", "opted_out", "postponed"})


class ConsentMode(models.TextChoices):
    OPT_OUT = "opt_out", "Opt-out (silence proceeds)"
    APPROVE = "approve", "Acceptance (silence waits)"


class DecisionChannel(models.TextChoices):
    PORTAL = "portal", "Customer portal"
    EMAIL = "email", "Link in an e-mail"
    STAFF_PHONE = "staff_phone", "By phone, recorded by staff"
    API = "api", "API"


class PostponeStatus(models.TextChoices):
    NONE = "", "—"
    PROPOSED = "proposed", "Proposed, waiting for staff"
    CONFIRMED = "confirmed", "Confirmed by staff"
    REFUSED = "refused", "Refused by staff"


class Action(models.TextChoices):
    """What a signed link (or a portal form) does; a link is bound to one action."""

    OPT_OUT = "opt_out", "Opt out"
    POSTPONE = "postpone", "Propose another date"
    ACCEPT = "accept", "Accept"


ACTION_DECISION: dict[str, str] = {
    Action.OPT_OUT: ConsentState.OPTED_OUT,
    Action.POSTPONE: ConsentState.POSTPONED,
    Action.ACCEPT: ConsentState.APPROVED,
}
