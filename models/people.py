"""Approvals, rejections and corrections sent by people to a waiting workflow."""

from pydantic import BaseModel, Field


class Approval(BaseModel):
    user: str = Field(min_length=1)
    comment: str = ""


class Rejection(BaseModel):
    user: str = Field(min_length=1)
    reason: str = ""


class Correction(BaseModel):
    user: str = Field(min_length=1)
    fields: dict[str, str] = Field(min_length=1)
    comment: str = ""
