"""`morgue serve`: the web UI and JSON API over the archive's query layer (`archive.query`).

One Starlette app (`app.create_app`) with its routes in one list, small Jinja2 templates
beside it, every HTML page with a JSON twin under `/api/` built from the same view function
(datasette's habit). No JavaScript: every page works with it disabled.
"""
