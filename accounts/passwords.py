"""Password validators of SECURITY.md that Django does not ship: a generous maximum and context words."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

PRODUCT_WORDS = ("prahari",)
# The documented list of docs/ASVS.md (V6.1.2): the roles and the programme's and department's words that a
# guesser tries first, beside each person's own names and places (`_context_words`).
ROLE_AND_PROGRAMME_WORDS = (
    "supervisor",
    "administrator",
    "asha",
    "anganwadi",
    "health",
    "vaccine",
    "vaccination",
    "immunisation",
    "immunization",
    "cowin",
    "uwin",
)
_MIN_WORD = 4


class MaximumLengthValidator:
    """Refuse passwords longer than `max_length` (128 by default): long passphrases stay welcome."""

    def __init__(self, max_length: int = 128):
        self.max_length = max_length

    def validate(self, password: str, user=None) -> None:
        if len(password) > self.max_length:
            raise ValidationError(
                ngettext(
                    "This password is too long. It must contain at most %(max)d character.",
                    "This password is too long. It must contain at most %(max)d characters.",
                    self.max_length,
                ),
                code="password_too_long",
                params={"max": self.max_length},
            )

    def get_help_text(self) -> str:
        return _("Your password can be up to %(max)d characters; a long phrase is good.") % {"max": self.max_length}


def _context_words(user) -> set[str]:
    words = {*PRODUCT_WORDS, *ROLE_AND_PROGRAMME_WORDS}
    if user is None:
        return words
    values = [
        getattr(user, "username", ""),
        getattr(user, "first_name", ""),
        getattr(user, "last_name", ""),
    ]
    for attr in ("facility", "district", "state"):
        place = getattr(user, f"{attr}_id", None) and getattr(user, attr)
        if place:
            values.append(place.name)
    facility = getattr(user, "facility_id", None) and user.facility
    if facility:
        values.append(facility.district.name)
    for value in values:
        for word in re.split(r"[^\w]+", (value or "").lower()):
            if len(word) >= _MIN_WORD:
                words.add(word)
    return words


class ContextWordValidator:
    """Refuse passwords containing the username, the person's names, their facility or district, or "prahari"."""

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        for word in sorted(_context_words(user)):
            if word in lowered:
                raise ValidationError(
                    _("This password contains a word others can guess (%(word)s): choose another."),
                    code="password_has_context_word",
                    params={"word": word},
                )

    def get_help_text(self) -> str:
        return _("Your password cannot contain your name, username, facility, district or “prahari”.")
