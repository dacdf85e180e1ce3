"""The chaos harness: sagas and a month-end under kills, an outage, 429 storms and cancels,
then a census of every system (`python -m chaos`, `make chaos`)."""
