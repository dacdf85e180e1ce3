"""Who proved they decided: the identity a decision proof names, and the keys that check it."""

from typing import Any

from pydantic import BaseModel, Field

UNKNOWN_KEY = "UnknownProofKey"
"""The type of a refusal whose proof is signed with a key the run does not know yet: the
sender runs the workflow's `refresh_keys` update and sends the decision again."""
REFRESH_KEYS = "refresh_keys"


class Identity(BaseModel):
    """The psflow user name, the verified subject and the issuer that verified it."""

    user: str
    subject: str
    issuer: str
    roles: list[str] | None = None
    """From the proof; None when the issuer leaves roles to the policy's users."""
    proof_id: str = ""


class ProofKeys(BaseModel):
    """The issuer a run trusts and its public keys (a JWKS's `keys`)."""

    issuer: str
    keys: list[dict[str, Any]] = Field(default_factory=list)

    def key_ids(self) -> set[str]:
        return {str(k.get("kid")) for k in self.keys}
