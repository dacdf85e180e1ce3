"""Sign-in sessions `psflow login` caches for the shell user, one per psflow user and store.

The cache is a JSON file only its owner may read ($XDG_CACHE_HOME/psflow/sessions.json, else
~/.cache/psflow/sessions.json). A session is a signed token that expires (security/issuer.py);
a decision asks the issuer for a proof with it, so the cache never holds a password.
"""

import hashlib
import json
import os
from pathlib import Path

from config import Settings
from security.proofs import expires_at

CACHE_ENV = "XDG_CACHE_HOME"


def cache_file() -> Path:
    base = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache")
    return Path(base) / "psflow" / "sessions.json"


def _estate(settings: Settings) -> str:
    """Which psflow the session belongs to: its store (the issuer's keys are there)."""
    where = settings.store_url or str(settings.data_dir.resolve())
    return hashlib.sha256(where.encode()).hexdigest()[:16]


def _read() -> dict[str, dict[str, str]]:
    try:
        data = json.loads(cache_file().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(data: dict[str, dict[str, str]]) -> None:
    path = cache_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(data, out, indent=1)
    temporary.replace(path)


def save(settings: Settings, user: str, token: str) -> None:
    data = _read()
    data.setdefault(_estate(settings), {})[user] = token
    _write(data)


def load(settings: Settings, user: str) -> str | None:
    return _read().get(_estate(settings), {}).get(user)


def signed_in(settings: Settings) -> dict[str, str]:
    """User name -> session token, for this psflow."""
    return dict(_read().get(_estate(settings), {}))


def forget(settings: Settings, user: str | None) -> list[str]:
    """Drop one user's session (all of this psflow's when None); the names dropped."""
    data = _read()
    sessions = data.get(_estate(settings), {})
    dropped = [name for name in list(sessions) if user is None or name == user]
    for name in dropped:
        del sessions[name]
    _write(data)
    return dropped


def expiry_text(token: str) -> str:
    when = expires_at(token)
    return f"until {when:%Y-%m-%d %H:%M} UTC" if when else "expiry unknown"
