"""One module per schema revision; each is frozen once released: change the schema in a new one."""
