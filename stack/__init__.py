"""The local stack behind `psflow dev` and `psflow demo`: dev server, sandbox, ingress, inbox,
worker, started and stopped together."""
