"""Approvals, rejections and corrections sent by people to a waiting workflow."""

from pydantic import BaseModel, Field


class Approval(BaseModel):
    user: str = Field(min_length=1)
    comment: str = ""


class Rejection(BaseModel):
    user: str = Field(min_length=1)
    reason: str = ""


# Fields whose values stay out of audit rows and status events (they are pay data).
CONFIDENTIAL_FIELDS = frozenset({"cost_rate", "salary", "bank_account"})


class Correction(BaseModel):
    user: str = Field(min_length=1)
    fields: dict[str, str] = Field(min_length=1)
    comment: str = ""

    def summary(self) -> str:
        """What changed, for the audit log: confidential values are not repeated."""
        changes = ", ".join(
            f"{name}=(changed)" if name in CONFIDENTIAL_FIELDS else f"{name}={value}"
            for name, value in self.fields.items()
        )
        return f"{changes} {self.comment}".strip()
