"""The mixin that gives a Tryton model psflow's external id and an idempotent upsert."""

from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, Unique, fields
from trytond.rpc import RPC
from trytond.transaction import Transaction

KEY = "psflow_external_id"


class ExternalIdMixin:
    """A unique, indexed `psflow_external_id` and the RPC class method `psflow_upsert`.

    `_psflow_create_only` names fields written when a record is created and never after
    (the origin: who created it), so an upsert of an existing record keeps its own.
    """

    __slots__ = ()
    _psflow_create_only: frozenset[str] = frozenset()

    psflow_external_id = fields.Char("psflow External ID", readonly=True, strip=False)

    @classmethod
    def __setup__(cls) -> None:
        super().__setup__()  # type: ignore[misc]
        t = cls.__table__()  # type: ignore[attr-defined]
        cls._sql_constraints += [  # type: ignore[attr-defined]
            ("psflow_external_id_unique", Unique(t, t.psflow_external_id),
             "psflow.msg_external_id_unique"),
        ]  # fmt: skip
        cls._sql_indexes.add(  # type: ignore[attr-defined]
            Index(t, (t.psflow_external_id, Index.Equality(cardinality="high")))
        )
        cls.__rpc__.update(  # type: ignore[attr-defined]
            {"psflow_upsert": RPC(readonly=False, result=list)}
        )

    @classmethod
    def psflow_upsert(cls, records: list[dict[str, object]]) -> list[int]:
        """Create or write each record by its external id; the ids in the same order.

        Idempotent: the same call again writes the same values to the same records.
        """
        keys = [values.get(KEY) for values in records]
        if not all(isinstance(key, str) and key for key in keys):
            raise UserError(gettext("psflow.msg_external_id_missing"))
        # inactive records count: an upsert must never make a second one
        with Transaction().set_context(active_test=False):
            found = {r.psflow_external_id: r for r in cls.search([(KEY, "in", keys)])}  # type: ignore[attr-defined]
        to_create = [values for values in records if values[KEY] not in found]
        to_write: list[object] = []
        for values in records:
            if values[KEY] in found:
                changes = {k: v for k, v in values.items() if k not in cls._psflow_create_only}
                to_write += [[found[values[KEY]]], changes]
        created = cls.create(to_create) if to_create else []  # type: ignore[attr-defined]
        if to_write:
            cls.write(*to_write)  # type: ignore[attr-defined]
        ids = {
            **{k: r.id for k, r in found.items()},
            **{r.psflow_external_id: r.id for r in created},
        }
        return [ids[key] for key in keys]
