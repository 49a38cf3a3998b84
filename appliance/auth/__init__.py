"""Users, passwords, sessions, CSRF, login throttling and scoped API tokens."""
