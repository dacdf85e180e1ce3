"""A chaos run's figures: one table (rich on a terminal, markdown for the README) and JSON."""

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from chaos.faults import Armed, LostAnswer
from chaos.findings import Finding, Kind, by_record, count
from chaos.outcomes import CANCELLED, COMPLETED, FAILED, RUNNING
from chaos.plan import NETSUITE, Plan
from chaos.processes import Kills
from chaos.sagas import SagaRun
from models.dead_letter import DeadLetter

HEADER = ["measure", "count", "detail"]


@dataclass
class Figures:
    plan: Plan
    seconds: float
    """Wall time from the first saga start to the end of the census."""
    runs: list[SagaRun]
    outcomes: dict[str, str]
    """Saga workflow id -> outcome."""
    billing: dict[str, str]
    """Time-to-bill workflow id -> outcome."""
    month_end: str
    kills: Kills
    outage: Armed
    storms: list[Armed]
    lost_answers: list[LostAnswer]
    findings: list[Finding]
    dead_letters: list[DeadLetter]
    entries: tuple[int, int]
    """Approved time entries and expenses the census checked."""
    customers: int
    """ERP customers the census checked."""
    notes: list[str] = field(default_factory=list)

    @property
    def stuck(self) -> list[str]:
        runs = [*self.outcomes.items(), *self.billing.items()]
        return [w for w, o in runs if o == RUNNING] + (
            ["month-end"] if self.month_end == RUNNING else []
        )

    @property
    def cancel_requested(self) -> list[SagaRun]:
        return [r for r in self.runs if r.cancelled_at is not None]

    @property
    def cancelled_not_cancelled(self) -> list[SagaRun]:
        """Runs whose cancel Temporal accepted that ended neither Cancelled nor Completed
        (a cancel that arrives as the last step returns cannot stop it)."""
        return [
            r
            for r in self.cancel_requested
            if self.outcomes.get(r.workflow_id) not in (CANCELLED, COMPLETED)
        ]

    @property
    def transient_dead_letters(self) -> list[DeadLetter]:
        """Dead letters of runs the harness did not cancel: every fault it injects is
        transient (kills, an outage, 429s), so each of these is a transient fault's."""
        cancelled = {r.workflow_id for r in self.cancel_requested}
        return [d for d in self.dead_letters if d.workflow_id not in cancelled]

    def counts(self) -> dict[str, int]:
        """The figures a test or a user checks first."""
        sagas = Counter(self.outcomes.values())
        return {
            "sagas": len(self.runs),
            "completed": sagas[COMPLETED],
            "cancelled": sagas[CANCELLED],
            "failed": sagas[FAILED],
            "other": len(self.runs) - sagas[COMPLETED] - sagas[CANCELLED] - sagas[FAILED],
            "cancels": len(self.cancel_requested),
            "cancels not ending cancelled": len(self.cancelled_not_cancelled),
            "lost": count(self.findings, Kind.LOST),
            "duplicated": count(self.findings, Kind.DUPLICATED),
            "orphaned": count(self.findings, Kind.ORPHANED),
            "stuck": len(self.stuck),
            "dead letters": len(self.dead_letters),
            "dead letters from transient faults": len(self.transient_dead_letters),
        }


def _tally(outcomes: dict[str, str]) -> str:
    return ", ".join(f"{n} {o}" for o, n in Counter(outcomes.values()).most_common()) or "none"


def _steps(runs: list[SagaRun]) -> str:
    return ", ".join(f"{n} at {s}" for s, n in Counter(r.cancelled_at for r in runs).most_common())


def _dead_letter_detail(f: Figures) -> str:
    letters = f.transient_dead_letters
    steps = Counter(f"{d.workflow_type} at {d.step or 'no step'}" for d in letters)
    shown = ", ".join(f"{n} {s}" for s, n in steps.most_common(4)) or "-"
    of_cancels = len(f.dead_letters) - len(letters)
    return shown + (f"; and {of_cancels} of cancelled runs" if of_cancels else "")


def _cancel_detail(f: Figures) -> str:
    accepted = f.cancel_requested
    missed = [r for r in f.runs if r.cancel_missed]
    if not accepted:
        text = "no cancel reached its run"
    else:
        ended = [f.outcomes.get(r.workflow_id) for r in accepted]
        text = (
            f"{len(accepted)} cancels sent ({_steps(accepted)}); "
            f"{ended.count(CANCELLED)} ended Cancelled"
        )
        if ended.count(COMPLETED):
            text += f", {ended.count(COMPLETED)} had completed before the cancel arrived"
        if f.cancelled_not_cancelled:
            text += f", {len(f.cancelled_not_cancelled)} ended otherwise"
    return text + (f"; {len(missed)} ended before their step" if missed else "")


def _failed_detail(f: Figures) -> str:
    failed = {w for w, o in f.outcomes.items() if o == FAILED}
    steps = Counter(d.step or "no step" for d in f.dead_letters if d.workflow_id in failed)
    return ", ".join(f"{n} at {s}" for s, n in steps.most_common()) or "-"


def _lost_detail(f: Figures) -> str:
    lost = Counter(f"{a.system.upper()} {a.method} {a.path}" for a in f.lost_answers if a.lost)
    return ", ".join(f"{n} {w}" if n > 1 else w for w, n in lost.most_common()) or "-"


def _outage_detail(f: Figures) -> str:
    if f.outage.stopped:
        return f"trytond SIGKILLed, then started again: {f.outage.refused} attempts met it"
    return f"{f.outage.refused} calls answered {f.outage.status}"


def rows(f: Figures) -> list[list[str]]:
    """The table's rows, in the order a reader checks them."""
    c, p, kills = f.counts(), f.plan, f.kills
    storm_calls = sum(s.refused for s in f.storms)
    systems = ", ".join(sorted({s.system.upper() for s in f.storms})) or "-"
    stuck = ", ".join(f.stuck[:3]) + (" ..." if len(f.stuck) > 3 else "")
    checked = (
        f"{len(f.runs)} deals in CRM, ERP and PSA, {f.customers} ERP customers, "
        f"{f.entries[0]} approved time entries, {f.entries[1]} expenses"
    )
    return [
        ["sagas (opportunity-to-project)", str(c["sagas"]), _tally(f.outcomes)],
        [
            "  completed",
            str(c["completed"]),
            "each: one ERP job, one active PSA project, its staffing requests, CRM ids",
        ],
        ["  cancelled", str(c["cancelled"]), _cancel_detail(f)],
        ["  failed", str(c["failed"]), _failed_detail(f)],
        ["  other (rejected, terminated, not started)", str(c["other"]), "-"],
        [
            "month-end: time-to-bill runs",
            str(len(f.billing)),
            f"{_tally(f.billing)}; month-end {f.month_end}",
        ],
        ["records checked", str(sum(f.entries) + len(f.runs) + f.customers), checked],
        ["records lost", str(c["lost"]), by_record(f.findings, Kind.LOST) or "-"],
        ["records duplicated", str(c["duplicated"]), by_record(f.findings, Kind.DUPLICATED) or "-"],
        ["records orphaned", str(c["orphaned"]), by_record(f.findings, Kind.ORPHANED) or "-"],
        ["stuck (running after settling)", str(c["stuck"]), stuck or "-"],
        [
            "dead letters from transient faults",
            str(c["dead letters from transient faults"]),
            _dead_letter_detail(f),
        ],
        [
            "worker / server SIGKILLs",
            f"{kills.worker} / {kills.server}",
            f"{kills.unplanned_worker_exits} unplanned worker exits",
        ],
        [f"{p.outage_system.upper()} outage", f"{p.outage_seconds:.0f} s", _outage_detail(f)],
        [
            "429 storms",
            str(len(f.storms)),
            f"{p.storm_seconds:.0f} s each on {systems}: {storm_calls} calls answered 429",
        ],
        [
            "lost answers",
            str(sum(a.lost for a in f.lost_answers)),
            f"of {len(f.lost_answers)} armed: {_lost_detail(f)}",
        ],
        [
            "wall time",
            f"{f.seconds:.0f} s",
            f"window {p.window_seconds:.0f} s, settle up to {p.settle_seconds:.0f} s, "
            f"seed {p.seed}" + (f", ERP {p.erp}" if p.erp != NETSUITE else ""),
        ],
    ]


def table(f: Figures) -> Table:
    shown = Table(title="psflow chaos run", title_justify="left")
    for name in HEADER:
        shown.add_column(name, overflow="fold", justify="right" if name == "count" else "left")
    for row in rows(f):
        shown.add_row(*row)
    return shown


def print_report(f: Figures, console: Console, findings_shown: int = 20) -> None:
    """The table, its notes, then the first findings and transient dead letters, one line
    each."""
    console.print(table(f))
    for note in f.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    for finding in f.findings[:findings_shown]:
        console.print(
            f"{finding.kind}: {finding.record} {finding.key}: {finding.detail}",
            markup=False,
            highlight=False,
        )
    for letter in f.transient_dead_letters[:findings_shown]:
        console.print(
            f"dead letter {letter.id}: {letter.workflow_id} at {letter.step}: {letter.error}",
            markup=False,
            highlight=False,
        )


def markdown(f: Figures) -> str:
    """The table as the README shows it."""
    lines = [HEADER, ["---"] * len(HEADER), *rows(f)]
    return "\n".join(
        "| " + " | ".join(cell.strip().replace("|", "/") for cell in r) + " |" for r in lines
    )


def as_json(f: Figures) -> dict[str, Any]:
    """Everything measured, for a file or another program."""
    return {
        "plan": asdict(f.plan),
        "counts": f.counts(),
        "seconds": round(f.seconds, 1),
        "sagas": {r.workflow_id: f.outcomes.get(r.workflow_id) for r in f.runs},
        "cancels": [
            {
                "workflow_id": r.workflow_id,
                "target": r.cancel_at,
                "at": r.cancelled_at,
                "missed": r.cancel_missed,
                "outcome": f.outcomes.get(r.workflow_id),
            }
            for r in f.runs
            if r.cancel_at
        ],
        "billing": f.billing,
        "month_end": f.month_end,
        "findings": [asdict(x) for x in f.findings],
        "stuck": f.stuck,
        "dead_letters": [
            {
                "id": d.id,
                "workflow_id": d.workflow_id,
                "step": d.step,
                "error": d.error,
                "state": d.state.value,
            }
            for d in f.dead_letters
        ],
        "kills": asdict(f.kills),
        "outage": asdict(f.outage),
        "storms": [asdict(s) for s in f.storms],
        "lost_answers": [asdict(a) for a in f.lost_answers],
        "notes": f.notes,
    }
