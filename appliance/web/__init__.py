"""The review dashboard: server-rendered pages (Jinja templates, a little plain JS, no CDN)."""
