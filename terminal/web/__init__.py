"""The front-desk page: Starlette routes, Jinja2 templates, htmx, server-sent events."""
