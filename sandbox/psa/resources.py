"""The PSA's rules for resources: the consultants that assignments staff onto projects."""

from sandbox import catalog
from sandbox.psa.errors import conflict, invalid, not_found
from sandbox.psa.ids import RESOURCE, new_id
from sandbox.psa.staff_schemas import Resource, ResourceChanges, ResourceInput
from sandbox.records import RecordStore

# Fields a change may clear with null; every other field keeps a value.
NULLABLE = frozenset({"email", "location", "origin"})


def org_problems(legal_entity: str, cost_center: str) -> list[tuple[str, str]]:
    """What is wrong with a resource's legal entity and cost center, as (field, problem)."""
    problems: list[tuple[str, str]] = []
    if legal_entity not in catalog.LEGAL_ENTITIES:
        known = ", ".join(catalog.LEGAL_ENTITIES)
        problems.append(("legal_entity", f"{legal_entity} is not one of {known}"))
    owner = catalog.COST_CENTERS.get(cost_center)
    if owner is None:
        problems.append(("cost_center", f"cost center {cost_center} does not exist"))
    elif not problems and owner[0] != legal_entity:
        problems.append(
            ("cost_center", f"cost center {cost_center} belongs to {owner[0]}, not {legal_entity}")
        )
    return problems


class ResourceService:
    """Resources, unique by external id (the HCM worker id), activated and deactivated."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store

    def resource(self, resource_id: str) -> Resource:
        """The resource, or 404."""
        record = self.store.get(RESOURCE, resource_id)
        if record is None:
            raise not_found("resource", resource_id)
        return Resource.model_validate(record)

    def resources(
        self, external_id: str | None, active: bool | None, role: str | None
    ) -> list[Resource]:
        """Resources in creation order, filtered by external id, active and/or role."""
        filters = {
            k: v
            for k, v in (("external_id", external_id), ("active", active), ("role", role))
            if v is not None
        }
        return [Resource.model_validate(r) for r in self.store.find(RESOURCE, **filters)]

    def create_resource(self, data: ResourceInput) -> Resource:
        """A new active resource; 422 on bad input, 409 when the external id is taken."""
        problems = org_problems(data.legal_entity, data.cost_center)
        if problems:
            raise invalid(problems)
        existing = self.store.id_for_external(RESOURCE, data.external_id)
        if existing:
            raise conflict(f"external_id {data.external_id} already exists as {existing}")
        resource = Resource(id=new_id(self.store, "RES"), active=True, **data.model_dump())
        record = resource.model_dump(mode="json")
        self.store.insert(RESOURCE, resource.id, record, external_id=resource.external_id)
        return resource

    def update_resource(self, resource_id: str, changes: ResourceChanges) -> Resource:
        """Apply the fields given; the result must still be a valid resource (else 422)."""
        resource = self.resource(resource_id)
        given = changes.model_dump(mode="json", exclude_unset=True)
        cleared = [f for f, v in given.items() if v is None and f not in NULLABLE]
        if cleared:
            raise invalid([(f, "may not be null") for f in cleared])
        merged = resource.model_dump(mode="json") | given
        problems = org_problems(merged["legal_entity"], merged["cost_center"])
        if problems:
            raise invalid(problems)
        if given:
            self.store.update(RESOURCE, resource_id, given)
        return self.resource(resource_id)

    def set_active(self, resource_id: str, active: bool) -> Resource:
        """Activate or deactivate the resource; idempotent. Assignments stay as they are."""
        resource = self.resource(resource_id)
        if resource.active != active:
            self.store.update(RESOURCE, resource_id, {"active": active})
        return self.resource(resource_id)
