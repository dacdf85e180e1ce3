"""psflow's Tryton module: an external id and an idempotent upsert on the records psflow
writes, and the group of its restricted integration user. Tryton registers the classes from
tryton.cfg (found through the `trytond.modules` entry point `psflow`)."""
