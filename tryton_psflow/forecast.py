"""A labour forecast: the hours and cost an employee is planned for on a project (NetSuite's
resource allocation; Tryton has none)."""

from trytond.model import ModelSQL, ModelView, fields

from .external_id import ExternalIdMixin


class LabourForecast(ExternalIdMixin, ModelSQL, ModelView):  # type: ignore[misc]
    """Hours and cost planned for an employee on a project, from a date."""

    __name__ = "psflow.labour_forecast"
    work = fields.Many2One(
        "project.work", "Project", required=True, ondelete="CASCADE",
        domain=[("type", "=", "project")],
    )  # fmt: skip
    employee = fields.Many2One("company.employee", "Employee", required=True, ondelete="RESTRICT")
    hours = fields.Numeric("Hours", digits=(16, 2), required=True)
    cost = fields.Numeric(
        "Cost", digits=(16, 2), required=True, help="In the project's company currency."
    )
    start_date = fields.Date("Start Date", required=True)
    end_date = fields.Date("End Date")
