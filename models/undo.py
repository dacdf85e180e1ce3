"""What an undo reports: its outcome, and why when it kept a record."""

from pydantic import BaseModel

from models.status import CompensationOutcome


class UndoReport(BaseModel):
    """An undo's outcome with its reason, shown beside it in the compensation log."""

    outcome: CompensationOutcome
    reason: str | None = None
