"""The decisions people send a running workflow, and the `status` query they read.

Updates `approve`, `reject` and `correct` (validated: a refused caller never enters history),
signals of the same names for fire-and-forget clients such as the plain `temporal` CLI, and a
`status` query. A correction is checked against the whole model it corrects, so no value a
person types can fail a workflow task.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.policy import PolicyActivities
    from models.brief import DecisionBrief
    from models.identity import REFRESH_KEYS, UNKNOWN_KEY, Identity, ProofKeys
    from models.people import (
        MAX_SHOWN_CHARS,
        Approval,
        Correction,
        InvalidCorrection,
        Rejection,
        corrected,
        malformed,
        shown,
    )
    from models.policy import PeoplePolicy, User
    from models.status import Event, WaitKind, WorkflowStatus
    from security.proofs import ProofRefused, proof_claims, verify
    from workflows.calls import read
    from workflows.saga import Saga

Decision = Approval | Rejection
M = TypeVar("M", bound=BaseModel)
D = TypeVar("D", bound=BaseModel)
Rule = Callable[[], str | None]
SIGNAL_EXAMPLES = {
    "approve": '{"user": "dana", "comment": "ok", "proof": "..."}',
    "reject": '{"user": "dana", "reason": "why", "proof": "..."}',
    "correct": '{"user": "dana", "fields": {"legal_entity": "US01"}, "proof": "..."}',
    "deal_changed": '{"event_id": "evt-1", "amount": "480000.00", "stage": "Closed Won"}',
    "lock_granted": '"PRJ-V00001"',
}


class Refused(ApplicationError):
    """An approval, rejection or correction the workflow will not take; it keeps waiting."""

    def __init__(self, reason: str, kind: str = "Refused") -> None:
        super().__init__(reason, type=kind, non_retryable=True)


class Decisions:
    """Who may approve, reject or correct, the handlers that take it, and the status and
    brief queries."""

    _status: WorkflowStatus
    _decision: Decision | None
    _corrections: list[Correction]
    saga: Saga

    # Who may do what; a returned string is the reason for refusing. Subclasses set `policy`
    # once it is loaded and `correctable`, and may add rules (segregation of duties).
    policy: PeoplePolicy | None = None
    correctable: tuple[str, ...] = ()
    # What a correction applies to, kept while one is awaited, so the validator can check it.
    correcting: BaseModel | None = None
    # Proofs: whether signals need them (runs started before proofs did not), the ids of those
    # taken (each decides once), keys reloaded since the policy, and who decided last.
    proven_signals = False
    _used_proofs: set[str]
    _reloaded_keys: ProofKeys | None = None
    decided_by: Identity | None = None
    # The proven identity while a decision is checked: its roles count over the policy's.
    _deciding: Identity | None = None

    def person(self, user: str) -> User | None:
        """The policy's user, with the roles a proof carries while its decision is checked."""
        found = self.policy.user(user) if self.policy else None
        who = self._deciding
        if who is None or who.user != user or who.roles is None:
            return found
        owner = found.crm_user_id if found else None
        return User(name=user, roles=who.roles, crm_user_id=owner)

    def rejection_refusal(self, user: str) -> str | None:
        if self.policy is None:
            return "the policy is not loaded yet: try again in a moment"
        person = self.person(user)
        if person is None:
            known = ", ".join(u.name for u in self.policy.users)
            return f"unknown user {shown(user)}: known users are {known}"
        role = self.policy.approval.role
        if role not in person.roles:
            return f"{user} does not have the {role} role this decision needs"
        return None

    def approval_refusal(self, user: str) -> str | None:
        return self.rejection_refusal(user)

    def correction_refusal(self, correction: Correction) -> str | None:
        if self.policy is None or self.person(correction.user) is None:
            return f"unknown user {shown(correction.user)}: corrections need a known user"
        unknown = sorted(set(correction.fields) - set(self.correctable))
        if unknown:
            names = ", ".join(n if n.isidentifier() else shown(n) for n in unknown)
            return f"cannot correct {names}: correctable fields are {', '.join(self.correctable)}"
        return None

    def value_refusal(self, correction: Correction, reveal: bool) -> str | None:
        """Why the corrected values do not fit the model being corrected (types, formats,
        allowed values), field by field with the fix; `reveal` repeats confidential values."""
        if self.correcting is None:
            return None
        try:
            corrected(self.correcting, correction.fields, reveal)
        except InvalidCorrection as exc:
            return str(exc)
        return None

    def apply_correction(self, subject: M, correction: Correction) -> M | None:
        """`subject` corrected, or None when the values do not fit (noted as a refusal).

        The validators refuse such values first; this keeps one that got past them (queued
        behind another correction, or from an older worker) from failing the workflow task.
        """
        try:
            return corrected(subject, correction.fields, reveal=False)
        except InvalidCorrection as exc:
            self._refused_signal("correct", correction.user, str(exc))
            return None

    # ---- the status query -------------------------------------------------------------

    @workflow.query
    def status(self) -> WorkflowStatus:
        """Steps, what it waits for and since when, compensations, and people's actions."""
        return self._status.model_copy(update={"compensations": list(self.saga.log)})

    @workflow.query
    def brief(self) -> DecisionBrief:
        """The business facts a person deciding this run needs (amount, lines, the match)."""
        brief = self.decision_brief()
        return brief.model_copy(update={"correctable": list(self.correctable)})

    def decision_brief(self) -> DecisionBrief:
        """Each workflow says what its decision is about; until it knows, its business key."""
        return DecisionBrief(title=self._status.business_key)

    # ---- updates (validated) and signals (fire-and-forget) -----------------------------

    @workflow.update
    async def approve(self, approval: Approval) -> str:
        """Approve the waiting step as `approval.user` (with a proof that they decided)."""
        self._take_proof(approval.proof)
        self._decision = approval
        return f"approved by {approval.user}"

    @approve.validator
    def _check_approve(self, approval: Approval) -> None:
        with self._proven("approve", approval.user, approval.proof):
            self._raise_if(self._approval_problem(approval.user))

    @workflow.update
    async def reject(self, rejection: Rejection) -> str:
        """Reject: the workflow undoes what it did and ends as rejected."""
        self._take_proof(rejection.proof)
        self._decision = rejection
        return f"rejected by {rejection.user}"

    @reject.validator
    def _check_reject(self, rejection: Rejection) -> None:
        with self._proven("reject", rejection.user, rejection.proof):
            self._raise_if(self._rejection_problem(rejection.user))

    @workflow.update
    async def correct(self, correction: Correction) -> str:
        """Fix the data the workflow is waiting on; it validates again and goes on."""
        self._take_proof(correction.proof)
        self._corrections.append(correction)
        fields = ", ".join(f"{k}={v}" for k, v in correction.fields.items())
        return f"correction {fields} accepted from {correction.user}"

    @correct.validator
    def _check_correct(self, correction: Correction) -> None:
        with self._proven("correct", correction.user, correction.proof):
            self._raise_if(self._correction_problem(correction, reveal=True))

    @workflow.update(name=REFRESH_KEYS)
    async def refresh_keys(self) -> str:
        """Reload the issuer's keys: a proof signed with a key the run did not know is refused
        with type UnknownProofKey; after this, the same decision is taken."""
        self._reloaded_keys = await read(PolicyActivities.proof_keys)
        return f"{len(self._reloaded_keys.keys)} keys of {self._reloaded_keys.issuer}"

    # A signal takes its argument untyped and checks it here: the SDK would drop one that does
    # not decode, and a missing or extra argument would fail the workflow task.

    @workflow.signal(name="approve")
    def approve_signal(self, *payload: object) -> None:
        """Fire-and-forget approve; a refusal, malformed input too, is recorded in the status
        events."""
        approval = self._signalled("approve", Approval, payload)
        if approval and not self._refused_signal(
            "approve",
            approval.user,
            self._signal_problem(
                "approve", approval, lambda: self._approval_problem(approval.user)
            ),
        ):
            self._take_proof(approval.proof, update=False)
            self._decision = approval

    @workflow.signal(name="reject")
    def reject_signal(self, *payload: object) -> None:
        """Fire-and-forget reject; a refusal, malformed input too, is recorded in the status
        events."""
        rejection = self._signalled("reject", Rejection, payload)
        if rejection and not self._refused_signal(
            "reject",
            rejection.user,
            self._signal_problem(
                "reject", rejection, lambda: self._rejection_problem(rejection.user)
            ),
        ):
            self._take_proof(rejection.proof, update=False)
            self._decision = rejection

    @workflow.signal(name="correct")
    def correct_signal(self, *payload: object) -> None:
        """Fire-and-forget correct; a refusal, malformed input too, is recorded in the status
        events."""
        correction = self._signalled("correct", Correction, payload)
        if correction and not self._refused_signal(
            "correct",
            correction.user,
            self._signal_problem(
                "correct", correction, lambda: self._correction_problem(correction, False)
            ),
        ):
            self._take_proof(correction.proof, update=False)
            self._corrections.append(correction)

    def _signalled(self, name: str, model: type[D], payload: tuple[object, ...]) -> D | None:
        """The signal's one argument as `model`, or None with the refusal noted."""
        if len(payload) == 1:
            try:
                return model.model_validate(payload[0])
            except ValidationError as exc:
                problem = malformed(exc)
        else:
            problem = f"{len(payload)} arguments given, one expected"
        sent = payload[0] if payload else None
        user = sent.get("user") if isinstance(sent, dict) else None
        example = SIGNAL_EXAMPLES[name]
        self._refused_signal(
            name, user if isinstance(user, str) else None, f"{problem}: send {example}"
        )
        return None

    # ---- proofs ----------------------------------------------------------------------

    def _identity(self, decision: str, user: str, proof: str | None) -> Identity:
        """Who `proof` proves is deciding, or ProofRefused: forged, expired, for another run
        or decision, someone else's, or used already."""
        keys = self._reloaded_keys or (self.policy.proof_keys if self.policy else None)
        identity = verify(
            proof, keys, workflow_id=workflow.info().workflow_id, decision=decision,
            now=workflow.now(),
        )  # fmt: skip
        if identity.user != user:
            raise ProofRefused(f"the proof is {identity.user}'s, not {shown(user)}'s")
        if identity.proof_id in self._used_proofs:
            raise ProofRefused("this proof was used already: each decision needs its own")
        return identity

    @contextmanager
    def _proven(self, decision: str, user: str, proof: str | None) -> Iterator[None]:
        """Raise Refused unless `proof` holds; inside, the refusal rules see its roles."""
        try:
            identity = self._identity(decision, user, proof)
        except ProofRefused as exc:
            raise Refused(str(exc), UNKNOWN_KEY if exc.unknown_key else "Refused") from None
        with self._deciding_as(identity):
            yield

    @contextmanager
    def _deciding_as(self, identity: Identity) -> Iterator[None]:
        self._deciding = identity
        try:
            yield
        finally:
            self._deciding = None

    def _signal_problem(
        self, decision: str, sent: Approval | Rejection | Correction, rules: Rule
    ) -> str | None:
        """Why a signalled decision is not taken: its proof (in runs that need one), then the
        rules. Runs started before proofs replay their signals as they were taken."""
        if not self.proven_signals:
            return rules()
        try:
            identity = self._identity(decision, sent.user, sent.proof)
        except ProofRefused as exc:
            return str(exc)
        with self._deciding_as(identity):
            return rules()

    def _take_proof(self, proof: str | None, *, update: bool = True) -> None:
        """Remember a taken proof: its id is not taken again, its subject goes to the audit.
        Two updates with one proof, both validated before either ran: the second fails (a
        signal's was checked just before; a signal handler must not raise)."""
        claims = proof_claims(proof)
        if claims is None:
            return
        if update and claims.proof_id in self._used_proofs:
            raise Refused("this proof was used already: each decision needs its own")
        self._used_proofs.add(claims.proof_id)
        self.decided_by = claims

    def _approval_problem(self, user: str) -> str | None:
        if not self._waits_for(WaitKind.APPROVAL):
            return self._not_waiting("approval")
        return self.approval_refusal(user)

    def _rejection_problem(self, user: str) -> str | None:
        if self._status.waiting_for is None:
            return self._not_waiting("a decision")
        return self.rejection_refusal(user)

    def _correction_problem(self, correction: Correction, reveal: bool) -> str | None:
        if not self._waits_for(WaitKind.CORRECTION):
            return self._not_waiting("correction")
        return self.correction_refusal(correction) or self.value_refusal(correction, reveal)

    def _waits_for(self, kind: WaitKind) -> bool:
        return self._status.waiting_for is not None and self._status.waiting_for.kind == kind

    def _not_waiting(self, what: str) -> str:
        waiting = self._status.waiting_for
        now = (
            f"it waits for {waiting.kind.value}"
            if waiting
            else f"state: {self._status.state.value}"
        )
        return f"{self._status.workflow_id} is not waiting for {what} ({now})"

    @staticmethod
    def _raise_if(problem: str | None) -> None:
        if problem:
            raise Refused(problem)

    def _refused_signal(self, name: str, user: str | None, problem: str | None) -> bool:
        if problem:
            self.note("refused", f"{name} refused: {problem}", user and user[:MAX_SHOWN_CHARS])
        return problem is not None

    def note(self, kind: str, detail: str, user: str | None = None) -> None:
        """Add an event to the status (people's actions, escalations, refusals)."""
        self._status.events.append(Event(at=workflow.now(), kind=kind, user=user, detail=detail))
