"""`psflow store upgrade` and `psflow store current`: the schema of psflow's own store."""

import typer

from cli.options import JsonOption
from cli.output import console, fail, print_json
from cli.state import settings_of
from store.engine import StoreError, store_version, upgrade_store
from store.schema import Version

app = typer.Typer(
    name="store",
    help="psflow's own store (audit log, dead letters, findings...): its schema version.",
    no_args_is_help=True,
)


@app.command()
def upgrade(ctx: typer.Context, json: JsonOption = False) -> None:
    """Bring the store to the schema this psflow needs: create an empty one, version one made
    by an earlier psflow, apply the revisions it lacks. Idempotent; run it before the
    workers of a new release (processes opening the store meanwhile wait for it).

    Example: psflow --config prod.toml store upgrade
    """
    try:
        before, after = upgrade_store(settings_of(ctx).resolved_store_url)
    except StoreError as exc:
        fail(str(exc))
    if json:
        print_json(
            {"store": after.store, "from": before.revision, "was": before.state,
             "to": after.revision, "upgraded": not before.current}
        )  # fmt: skip
    elif before.current:
        console.print(
            f"the store at {after.store} is at schema {after.revision}, this psflow's: "
            "nothing to upgrade",
            soft_wrap=True,
        )
    else:
        done = "created" if before.empty else "upgraded"
        console.print(
            f"{done} the store at {after.store}: {before.shown} -> {after.revision}",
            soft_wrap=True,
        )


@app.command()
def current(ctx: typer.Context, json: JsonOption = False) -> None:
    """The store's schema revision and this psflow's; exit 0 when they are the same, else 1
    with what to do (`psflow store upgrade`, or upgrade psflow for a newer store).

    Example: psflow store current --json
    """
    try:
        found = store_version(settings_of(ctx).resolved_store_url)
    except StoreError as exc:
        fail(str(exc))
    if json:
        print_json(_as_json(found))
    else:
        console.print(f"store   {found.store}", soft_wrap=True)
        console.print(f"schema  {found.shown}")
        console.print(f"head    {found.head} (this psflow)")
        if found.current:
            console.print("up to date", style="green")
    problem = found.problem()
    if problem:
        fail(problem)


def _as_json(found: Version) -> dict[str, str | bool | None]:
    return {
        "store": found.store,
        "revision": found.revision,
        "head": found.head,
        "state": found.state,
        "up_to_date": found.current,
    }
