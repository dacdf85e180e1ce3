"""The application layer every front door goes through (the CLI, ingress, the demo,
reconciliation's repairs): start by business key, send a proven decision, read a run's
status, the change-order checks, the Temporal client. It renders nothing."""
