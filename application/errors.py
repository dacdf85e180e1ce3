"""The one error the application layer raises for what a person can fix."""


class AppError(Exception):
    """A problem in one line, naming what is wrong and the fix (the CLI prints it, exit 1)."""
