"""The Flask side: app factory, authentication, error rendering. Thin over the services."""
