"""`stix dashboard`: a read-only local web page over the CLI's own reads (index, stores, node agents).

data.py builds the page's read model from the functions the CLI commands call; app.py serves it (Starlette,
server-rendered Jinja templates, a few lines of JavaScript that refresh fragments by polling).
"""
