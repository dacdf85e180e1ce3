"""Approvals, rejections and corrections sent by people to a waiting workflow."""

import unicodedata
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

PROOF_FIELD = Field(default=None, repr=False)
"""A signed proof that `user` decided (security/proofs.py); decisions without one are refused."""


class Approval(BaseModel):
    user: str = Field(min_length=1)
    comment: str = ""
    proof: str | None = PROOF_FIELD


class Rejection(BaseModel):
    user: str = Field(min_length=1)
    reason: str = ""
    proof: str | None = PROOF_FIELD


# Fields whose values stay out of audit rows and status events (they are pay data).
CONFIDENTIAL_FIELDS = frozenset({"cost_rate", "salary", "bank_account"})


class Correction(BaseModel):
    # The plain `temporal` CLI sends `{"cost_rate": 95}`: a number is taken as its text.
    model_config = ConfigDict(coerce_numbers_to_str=True)

    user: str = Field(min_length=1)
    fields: dict[str, str] = Field(min_length=1)
    comment: str = ""
    proof: str | None = PROOF_FIELD

    def summary(self) -> str:
        """What changed, for the audit log: confidential values are not repeated."""
        changes = ", ".join(
            f"{name}=(changed)" if name in CONFIDENTIAL_FIELDS else f"{name}={value}"
            for name, value in self.fields.items()
        )
        return f"{changes} {self.comment}".strip()


# ---- whether a correction fits the model it corrects ------------------------------------

M = TypeVar("M", bound=BaseModel)
MAX_VALUE_CHARS = 200
"""Longer values are refused: every value ends up in URLs, status and audit rows."""
MAX_SHOWN_CHARS = 40
# Amounts within these bounds stay exact through quantizing to cents (28-digit context).
MAX_AMOUNT = Decimal(10) ** 12
AMOUNT_PLACES = 6
AMOUNT_EXAMPLE = "give an amount such as 95.00"
DATE_EXAMPLE = "give a date as YYYY-MM-DD, such as 2026-03-01"
_FIXES = {
    "decimal_parsing": f"is not a decimal number: {AMOUNT_EXAMPLE}",
    "decimal_type": f"is not a decimal number: {AMOUNT_EXAMPLE}",
    "finite_number": f"is not a finite number: {AMOUNT_EXAMPLE}",
    "int_parsing": "is not a whole number: give one such as 40",
    "int_from_float": "is not a whole number: give one such as 40",
    "date_parsing": f"is not a date: {DATE_EXAMPLE}",
    "date_from_datetime_parsing": f"is not a date: {DATE_EXAMPLE}",
    "date_from_datetime_inexact": f"is not a date: {DATE_EXAMPLE}",
    "bool_parsing": "is not true or false: give true or false",
}


class InvalidCorrection(ValueError):
    """Corrected values that do not fit the model; the message names each field and the fix."""


def shown(text: str) -> str:
    """`text` quoted for a message, cut short so that no message grows with its input."""
    if len(text) <= MAX_SHOWN_CHARS:
        return repr(text)
    return f"{text[: MAX_SHOWN_CHARS - 3]!r}... ({len(text)} characters)"


def corrected(subject: M, fields: Mapping[str, str], reveal: bool = True) -> M:
    """`subject` with `fields` set, validated as its own model validates it.

    Raises InvalidCorrection naming each field that does not fit and how to fix it. With
    `reveal` off, confidential values are not repeated in the message (it goes to the status).
    """

    def value(name: str) -> str:
        raw = fields[name]
        if not raw.strip():
            return "an empty value"
        return shown(raw) if reveal or name not in CONFIDENTIAL_FIELDS else "the value given"

    problems = [p for name in fields if (p := _text_problem(name, fields[name], value))]
    if problems:
        raise InvalidCorrection("; ".join(problems))
    try:
        merged = type(subject).model_validate(subject.model_dump() | dict(fields))
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        raise InvalidCorrection(
            "; ".join(_error_problem(e, fields, value) for e in errors)
        ) from None
    except (ValueError, TypeError, ArithmeticError) as exc:  # a model validator's own error
        raise InvalidCorrection(f"{', '.join(fields)}: {exc}") from None
    problems = [
        f"{name}: {value(name)} {fix}"
        for name in fields
        if (fix := _amount_problem(getattr(merged, name, None)))
    ]
    if problems:
        raise InvalidCorrection("; ".join(problems))
    return merged


def malformed(error: ValidationError, most: int = 3) -> str:
    """What is wrong with a decision that does not parse, in one line of bounded length."""
    errors = error.errors(include_url=False)
    parts = [
        f"{'.'.join(str(step)[:MAX_SHOWN_CHARS] for step in e['loc']) or 'the argument'}: "
        f"{e['msg']}"
        for e in errors[:most]
    ]
    if len(errors) > most:
        parts.append(f"{len(errors) - most} more")
    return "; ".join(parts)


def _text_problem(name: str, raw: str, value: Callable[[str], str]) -> str | None:
    if len(raw) > MAX_VALUE_CHARS:
        return f"{name}: the value has {len(raw)} characters: give at most {MAX_VALUE_CHARS}"
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in raw):
        return (
            f"{name}: {value(name)} contains a control character (line break, tab): "
            "give one line of plain text"
        )
    # Values are codes and names that lookups put in URL paths: nothing there may be a path.
    if raw and not raw.strip("."):
        return f"{name}: {value(name)} is not a value: give a name or a code"
    if slash := next((c for c in raw if c in "/\\"), None):
        return f"{name}: {value(name)} contains {slash!r}: give a name or a code, which never does"
    return None


def _error_problem(
    error: ErrorDetails, fields: Mapping[str, str], value: Callable[[str], str]
) -> str:
    name = str(error["loc"][0]) if error["loc"] else ""
    if name not in fields:  # not expected: the rest of the model was valid before
        return f"{name or 'the correction'}: {error['msg']}"
    fix = _FIXES.get(error["type"])
    if fix is None and error["type"] in ("enum", "literal_error"):
        fix = f"is not allowed: use {error.get('ctx', {}).get('expected', 'a listed value')}"
    return f"{name}: {value(name)} {fix or 'does not fit: ' + error['msg']}"


def _amount_problem(amount: object) -> str | None:
    if not isinstance(amount, Decimal):
        return None
    if abs(amount) >= MAX_AMOUNT:
        return f"is too large: {AMOUNT_EXAMPLE} (at most 12 digits before the point)"
    if amount != round(amount, AMOUNT_PLACES):
        return f"has more than {AMOUNT_PLACES} decimal places: {AMOUNT_EXAMPLE}"
    return None
