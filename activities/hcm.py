"""HCM (Workday) reads."""

from temporalio import activity

from connectors.errors import NotFound
from connectors.hcm import HcmConnector
from models.hcm import Worker


class HcmActivities:
    def __init__(self, hcm: HcmConnector) -> None:
        self._hcm = hcm

    @activity.defn(name="hcm.get_worker")
    async def get_worker(self, worker_id: str) -> Worker:
        """The worker as the HCM has them now."""
        return await self._hcm.get_worker(worker_id)

    @activity.defn(name="hcm.worker_exists")
    async def worker_exists(self, worker_id: str) -> bool:
        """Whether the HCM knows this worker (used to check managers)."""
        try:
            await self._hcm.get_worker(worker_id)
        except NotFound:
            return False
        return True
