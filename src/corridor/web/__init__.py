"""The web dashboard: pages served by `corridor serve` and the JSON only they need.

`corridor.web.routes.router` is passed to `corridor.api.app.create_app` in
``extra_routers``; see docs/DASHBOARD.md.
"""
