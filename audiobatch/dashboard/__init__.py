"""The dashboard: a JSON API and server-rendered pages over the SQL state."""
