"""Routes for resources: the consultants the PSA staffs, one per HCM worker."""

from functools import partial

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.psa.idempotency import Idempotency, IdempotencyKey
from sandbox.psa.resources import ResourceService
from sandbox.psa.staff_schemas import Resource, ResourceChanges, ResourceInput, ResourceList

TAG = "resources"


def resource_routes(resources: ResourceService, idem: Idempotency) -> APIRouter:
    """GET, POST and PATCH routes for resources."""
    router = APIRouter(tags=[TAG])

    @router.get("/resources")
    def list_resources(
        external_id: str | None = None, active: bool | None = None, role: str | None = None
    ) -> ResourceList:
        """Resources in creation order, filtered by external id (the HCM worker id), active
        and/or role."""
        return ResourceList(data=resources.resources(external_id, active, role))

    @router.get("/resources/{resource_id}")
    def get_resource(resource_id: str) -> Resource:
        """One resource."""
        return resources.resource(resource_id)

    @router.post("/resources", status_code=201, response_model=Resource)
    def create_resource(
        data: ResourceInput, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Create an active resource. `role` is one of the firm's roles; the cost center
        belongs to the legal entity. A second resource with the same external id answers
        409, naming the existing one (deactivated resources keep their external id)."""
        return idem.respond(key, request, data, partial(resources.create_resource, data), 201)

    @router.patch("/resources/{resource_id}", response_model=Resource)
    def update_resource(
        resource_id: str, data: ResourceChanges, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Change the fields given (unknown fields answer 422); only `email`, `location` and
        `origin` can be cleared with null. The cost center must still belong to the legal
        entity."""
        action = partial(resources.update_resource, resource_id, data)
        return idem.respond(key, request, data, action)

    @router.post("/resources/{resource_id}/deactivate", response_model=Resource)
    def deactivate_resource(
        resource_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Deactivate a resource so it can no longer be assigned; its assignments stay as
        they are. Deactivating an inactive resource answers it unchanged."""
        action = partial(resources.set_active, resource_id, False)
        return idem.respond(key, request, None, action)

    @router.post("/resources/{resource_id}/reactivate", response_model=Resource)
    def reactivate_resource(
        resource_id: str, request: Request, key: IdempotencyKey = None
    ) -> JSONResponse:
        """Make a resource assignable again; reactivating an active one answers it unchanged."""
        action = partial(resources.set_active, resource_id, True)
        return idem.respond(key, request, None, action)

    return router
