"""The inbox app: sign-in (inbox/signin.py), the run pages (inbox/runs.py) and the static
files. Everything it knows of runs comes from the application layer."""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from temporalio.client import Client

from application.health import add_health_routes, store_check, temporal_check
from config import Settings
from inbox.pages import HERE, Inbox
from inbox.runs import run_routes
from inbox.signin import sign_in_routes


def create_app(settings: Settings, engine: Engine, client: Client | None = None) -> FastAPI:
    inbox = Inbox(settings, engine, client)
    app = FastAPI(title="psflow inbox", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    sign_in_routes(app, inbox)
    run_routes(app, inbox)
    checks = {"temporal": temporal_check(inbox.client), "store": store_check(engine)}
    add_health_routes(app, checks)
    return app
