"""Analytics: named SQL reports over a corridor database, for the CLI and the dashboard."""
