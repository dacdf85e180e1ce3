"""`psflow inbox`: the approvers' web pages. Server-rendered (FastAPI, Jinja2), no front-end
build: sign in, see what waits for you, open it, decide. Decisions go through the application
layer with a proof issued from the person's session, as the CLI's do."""
