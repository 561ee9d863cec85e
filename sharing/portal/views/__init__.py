"""Portal views, one module per area; each parses the request, calls services, renders."""
