"""Decision proofs and local accounts, without a workflow: what is accepted and what is refused."""

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Engine

from models.identity import Identity
from security import issuer
from security.proofs import AUDIENCE, ProofRefused, expires_at, verify
from store.accounts import AccountError, add_account, check_password, set_password
from store.db import open_engine

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WF = "opportunity-to-project/006A"
DANA = Identity(user="dana", subject="local-dana", issuer=issuer.LOCAL_ISSUER, roles=["deal-desk"])


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def check(engine: Engine, token: str | None, *, wf: str = WF, decision: str = "approve",
          at: datetime = NOW) -> Identity:  # fmt: skip
    return verify(token, issuer.public_keys(engine, NOW), workflow_id=wf, decision=decision, now=at)


def refusal(engine: Engine, token: str | None, **kwargs: object) -> ProofRefused:
    with pytest.raises(ProofRefused) as caught:
        check(engine, token, **kwargs)  # type: ignore[arg-type]
    return caught.value


def test_a_proof_names_the_user_subject_issuer_and_roles(engine: Engine) -> None:
    proof = issuer.issue_proof(engine, DANA, WF, "approve", NOW)
    who = check(engine, proof, at=NOW + timedelta(minutes=4))
    assert (who.user, who.subject, who.issuer, who.roles) == (
        "dana", "local-dana", issuer.LOCAL_ISSUER, ["deal-desk"],
    )  # fmt: skip
    assert who.proof_id and expires_at(proof) == NOW + issuer.PROOF_TTL


def test_no_proof_says_how_to_get_one(engine: Engine) -> None:
    assert "psflow login" in str(refusal(engine, None))
    assert "psflow token --for approve" in str(refusal(engine, ""))


def test_expired_wrong_workflow_and_wrong_decision_are_refused(engine: Engine) -> None:
    proof = issuer.issue_proof(engine, DANA, WF, "approve", NOW)
    assert "expired" in str(refusal(engine, proof, at=NOW + timedelta(minutes=6)))
    assert "not opportunity-to-project/006B" in str(
        refusal(engine, proof, wf="opportunity-to-project/006B")
    )
    assert "not reject" in str(refusal(engine, proof, decision="reject"))


def test_a_forged_or_altered_proof_is_refused(engine: Engine) -> None:
    proof = issuer.issue_proof(engine, DANA, WF, "approve", NOW)
    kid = jwt.get_unverified_header(proof)["kid"]
    claims = jwt.decode(proof, options={"verify_signature": False})
    forger = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(claims, forger, algorithm="ES256", headers={"kid": kid})
    assert "signature does not match" in str(refusal(engine, forged))

    head, _, rest = proof.partition(".")
    body, _, signature = rest.partition(".")
    altered = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    altered["name"] = "fatima"
    new_body = base64.urlsafe_b64encode(json.dumps(altered).encode()).rstrip(b"=").decode()
    assert "signature does not match" in str(refusal(engine, f"{head}.{new_body}.{signature}"))

    unsigned = jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]
    assert "not ES256" in str(refusal(engine, unsigned))
    assert "not a signed token" in str(refusal(engine, "not-a-token"))


def test_a_session_is_not_a_proof(engine: Engine) -> None:
    session = issuer.issue_session(engine, DANA, NOW)
    assert "not meant for psflow" in str(refusal(engine, session))
    assert issuer.verify_session(engine, session, NOW).user == "dana"
    with pytest.raises(ProofRefused, match="expired"):
        issuer.verify_session(engine, session, NOW + issuer.SESSION_TTL + timedelta(seconds=1))
    proof = issuer.issue_proof(engine, DANA, WF, "approve", NOW)
    with pytest.raises(ProofRefused, match="login"):
        issuer.verify_session(engine, proof, NOW)
    assert jwt.decode(proof, options={"verify_signature": False})["aud"] == AUDIENCE


def test_a_key_the_run_does_not_know_is_refused_as_unknown(engine: Engine) -> None:
    known = issuer.public_keys(engine, NOW)
    issuer.rotate(engine, NOW + timedelta(minutes=1))
    proof = issuer.issue_proof(engine, DANA, WF, "approve", NOW + timedelta(minutes=1))
    with pytest.raises(ProofRefused) as caught:
        verify(proof, known, workflow_id=WF, decision="approve", now=NOW + timedelta(minutes=2))
    assert caught.value.unknown_key and "send the decision again" in str(caught.value)
    # reloaded keys have the new one, and still the retired one, whose proofs stay valid
    reloaded = issuer.public_keys(engine, NOW + timedelta(minutes=2))
    assert known.key_ids() < reloaded.key_ids()
    assert (
        verify(
            proof, reloaded, workflow_id=WF, decision="approve", now=NOW + timedelta(minutes=2)
        ).user
        == "dana"
    )


def test_accounts_check_passwords_and_refuse_bad_input(engine: Engine) -> None:
    account = add_account(engine, "dana", "correct horse battery", ["deal-desk"])
    assert account.subject.startswith("local-") and account.roles == ["deal-desk"]
    assert check_password(engine, "dana", "correct horse battery") == account
    assert check_password(engine, "dana", "wrong password!!") is None
    assert check_password(engine, "nobody", "correct horse battery") is None
    with pytest.raises(AccountError, match="exists"):
        add_account(engine, "dana", "another long password", [])
    with pytest.raises(AccountError, match="at least 12"):
        add_account(engine, "erin", "short", [])
    with pytest.raises(AccountError, match="not valid"):
        add_account(engine, "Erin Smith", "a long enough password", [])
    set_password(engine, "dana", "a brand new password")
    assert check_password(engine, "dana", "correct horse battery") is None
    assert check_password(engine, "dana", "a brand new password") is not None
