"""What people send to a waiting workflow: approve, reject, correct."""

from typing import Annotated

import typer

from application import runs
from application.temporal import connect
from cli.accounts import proof_for
from cli.options import AsOption, WorkflowIdArg, resolve_user
from cli.output import CliError, console, fail
from cli.state import run, settings_of
from config import Settings
from models.people import Approval, Correction, Rejection

app = typer.Typer()
Decided = Approval | Rejection | Correction


def _send(ctx: typer.Context, workflow_id: str, name: str, argument: Decided) -> None:
    """Send the decision with a proof from the user's session (`psflow login`)."""
    settings = settings_of(ctx)
    answer = run(_update(settings, workflow_id, name, argument))
    console.print(f"{workflow_id}: {answer}", soft_wrap=True)
    console.print(f"follow it: psflow watch {workflow_id}", style="dim", soft_wrap=True)


async def _update(settings: Settings, workflow_id: str, name: str, argument: Decided) -> str:
    client = await connect(settings)
    proof = proof_for(settings, argument.user, workflow_id, name)
    proven = argument.model_copy(update={"proof": proof})
    return await runs.update(client, settings, workflow_id, name, proven)


@app.command()
def approve(
    ctx: typer.Context,
    workflow_id: WorkflowIdArg,
    as_user: AsOption = None,
    comment: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    """Approve a workflow waiting for approval (your role is checked; the deal owner may not).

    Example: psflow approve opportunity-to-project/006Hs0000000003IAA --as dana --comment "ok"
    """
    _send(ctx, workflow_id, "approve", Approval(user=resolve_user(as_user), comment=comment))


@app.command()
def reject(
    ctx: typer.Context,
    workflow_id: WorkflowIdArg,
    as_user: AsOption = None,
    reason: Annotated[str, typer.Option(help="Why, for the audit log and the requester.")] = "",
) -> None:
    """Reject a waiting workflow: it undoes what it did and ends as rejected.

    Example: psflow reject opportunity-to-project/006Hs0000000003IAA --as dana --reason "margin"
    """
    _send(ctx, workflow_id, "reject", Rejection(user=resolve_user(as_user), reason=reason))


def parse_fields(pairs: list[str]) -> dict[str, str]:
    """`field=value` pairs as a dict; anything else is a CliError."""
    if not pairs:
        raise CliError("use --set field=value (at least once)")
    fields: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise CliError(f"{pair!r} is not field=value: use --set field=value")
        fields[name.strip()] = value
    return fields


@app.command()
def correct(
    ctx: typer.Context,
    workflow_id: WorkflowIdArg,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="FIELD=VALUE", help="A corrected field; repeat for several."),
    ] = None,
    as_user: AsOption = None,
    comment: Annotated[str, typer.Option(help="Why, for the audit log.")] = "",
) -> None:
    """Correct the data a workflow is waiting on; it validates again and carries on.

    `psflow status ID` names the fields that need a correction.

    Example: psflow correct opportunity-to-project/006Hs0000000007IAA --set legal_entity=US01
    """
    try:
        fields = parse_fields(set_ or [])
    except CliError as exc:
        fail(str(exc))
    correction = Correction(user=resolve_user(as_user), fields=fields, comment=comment)
    _send(ctx, workflow_id, "correct", correction)
