"""psflow's performance benchmark: `make bench` or `python -m bench [--quick]`."""
