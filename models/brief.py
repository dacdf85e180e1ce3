"""What a person deciding a run needs to see: the business facts behind the wait, as each
workflow answers its `brief` query. Front ends render it; none of them works it out."""

from pydantic import BaseModel


class Fact(BaseModel):
    label: str
    value: str


class Table(BaseModel):
    caption: str
    columns: list[str]
    rows: list[list[str]]


class DecisionBrief(BaseModel):
    title: str
    facts: list[Fact] = []
    tables: list[Table] = []
    correctable: list[str] = []
    """Fields a correction may set, when the run waits for one."""
