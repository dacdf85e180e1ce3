"""The Tryton records psflow writes, each with its external id (tryton_psflow.external_id)."""

from trytond.model import fields
from trytond.pool import PoolMeta

from .external_id import ExternalIdMixin

ORIGIN_HELP = "Id of the psflow workflow that created the record."


class Party(ExternalIdMixin, metaclass=PoolMeta):  # type: ignore[metaclass]
    """A customer (or an employee's person): NetSuite's customer."""

    __name__ = "party.party"
    _psflow_create_only = frozenset({"psflow_origin"})
    psflow_origin = fields.Char("psflow Origin", readonly=True, help=ORIGIN_HELP)


class Work(ExternalIdMixin, metaclass=PoolMeta):  # type: ignore[metaclass]
    """A project: NetSuite's job."""

    __name__ = "project.work"
    # Tryton has no project budget; the amount psflow sold, in the company's currency
    psflow_budget = fields.Numeric("psflow Budget", digits=(16, 2))


class Employee(ExternalIdMixin, metaclass=PoolMeta):  # type: ignore[metaclass]
    """An employee; the labour cost is timesheet_cost's cost price."""

    __name__ = "company.employee"
    _psflow_create_only = frozenset({"psflow_origin"})
    psflow_origin = fields.Char("psflow Origin", readonly=True, help=ORIGIN_HELP)
    # Tryton has no cost center on an employee (analytic accounts are its way)
    psflow_cost_center = fields.Char("psflow Cost Center")
