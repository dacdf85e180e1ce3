"""Local accounts and signing in: `psflow users`, `login`, `logout`, `token`.

A decision (`approve`, `reject`, `correct`) carries a proof that the person signed in; the
CLI asks psflow's issuer for one with the session `psflow login` cached (cli/sessions.py).
"""

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from application.identity import proof_from_session, provider_sign_in, session_for
from cli import sessions
from cli.options import AsOption, WorkflowIdArg, resolve_user
from cli.output import CliError, console, fail
from cli.state import run, settings_of, store_of
from config import Settings
from security import issuer
from security.proofs import DECISIONS
from store.accounts import (
    AccountError,
    add_account,
    list_accounts,
    remove_account,
    set_password,
)

app = typer.Typer()
users = typer.Typer(help="Local accounts: people who sign in without an identity provider.")

PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input (for scripts)."),
]


def _password(from_stdin: bool, confirm: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    text: str = typer.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return text


@users.command("add")
def users_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="User name, as the policy's users name them.")],
    role: Annotated[
        list[str] | None,
        typer.Option(help="A role this person has (repeatable); none: the policy's users say."),
    ] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a local account (the password is asked for, and kept only as an Argon2id hash).

    Example: psflow users add dana --role deal-desk
    """
    engine = store_of(settings_of(ctx))
    try:
        account = add_account(engine, name, _password(password_stdin, True), role or [])
    except AccountError as exc:
        fail(str(exc))
    roles = ", ".join(account.roles) or "from the policy's users"
    console.print(f"added {account.name} (roles: {roles}); sign in with `psflow login {name}`")


@users.command("list")
def users_list(ctx: typer.Context) -> None:
    """The local accounts."""
    table = Table("user", "roles", "subject", "added")
    for account in list_accounts(store_of(settings_of(ctx))):
        added = f"{account.created_at:%Y-%m-%d %H:%M}"
        table.add_row(account.name, ", ".join(account.roles) or "(policy)", account.subject, added)
    console.print(table)


@users.command("password")
def users_password(ctx: typer.Context, name: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a local account."""
    try:
        set_password(store_of(settings_of(ctx)), name, _password(password_stdin, True))
    except AccountError as exc:
        fail(str(exc))
    console.print(f"password of {name} changed")


@users.command("remove")
def users_remove(ctx: typer.Context, name: str) -> None:
    """Remove a local account: its sessions and proofs stop working at once."""
    try:
        remove_account(store_of(settings_of(ctx)), name)
    except AccountError as exc:
        fail(str(exc))
    console.print(f"removed {name}")


@app.command()
def login(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Your user name (a local account).")] = None,
    password_stdin: PasswordStdin = False,
    local: Annotated[
        bool, typer.Option("--local", help="A local account even when [auth.oidc] is set.")
    ] = False,
) -> None:
    """Sign in; the session is kept for your shell user for 8 hours. With [auth.oidc] set, at
    the firm's identity provider (a link and a code to open in a browser), else with a local
    account's password.

    Example: psflow login dana
    """
    settings = settings_of(ctx)
    if settings.auth.oidc and not local:
        identity = run(provider_sign_in(settings.auth.oidc, _show))
        user, token = identity.user, issuer.issue_session(store_of(settings), identity)
        via = f" through {identity.issuer}"
    else:
        user = resolve_user(name)
        token, via = sign_in(settings, user, _password(password_stdin, False)), ""
    sessions.save(settings, user, token)
    console.print(f"signed in as {user}{via} {sessions.expiry_text(token)}")


def _show(link: str, code: str) -> None:
    console.print(f"open {link} in a browser and sign in", soft_wrap=True)
    if code:
        console.print(f"code: {code}")


def sign_in(settings: Settings, user: str, password: str) -> str:
    """A session for `user`, or exit 1 naming what to do."""
    try:
        return session_for(store_of(settings), user, password)
    except CliError as exc:
        fail(str(exc))


@app.command()
def logout(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Whose session (default: every one).")] = None,
) -> None:
    """Forget a cached session (or all of them)."""
    dropped = sessions.forget(settings_of(ctx), name)
    console.print(f"signed out: {', '.join(dropped)}" if dropped else "nobody was signed in")


def proof_for(settings: Settings, user: str, workflow_id: str, decision: str) -> str:
    """A proof that `user`, signed in, sends `decision` to `workflow_id`; or a CliError."""
    token = sessions.load(settings, user)
    if token is None:
        raise CliError(f"{user} is not signed in: `psflow login {user}`")
    return proof_from_session(store_of(settings), token, user, workflow_id, decision)


@app.command()
def token(
    ctx: typer.Context,
    workflow_id: WorkflowIdArg,
    for_: Annotated[
        str, typer.Option("--for", metavar="DECISION", help="approve, reject or correct.")
    ],
    as_user: AsOption = None,
) -> None:
    """Print the `--input` of a proven decision for the plain `temporal` CLI (valid 5 minutes).

    Example: temporal workflow update execute --name approve -w ID --input "$(psflow token
    --for approve ID)"
    """
    if for_ not in DECISIONS:
        fail(f"--for {for_!r}: use one of {', '.join(DECISIONS)}")
    settings = settings_of(ctx)
    user = resolve_user(as_user)
    try:
        proof = proof_for(settings, user, workflow_id, for_)
    except CliError as exc:
        fail(str(exc))
    print(json.dumps({"user": user, "proof": proof}))


app.add_typer(users, name="users")
