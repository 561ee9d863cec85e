"""Members and their credentials: organizations, users, API keys, sharing groups.

Plain Python over SQLAlchemy sessions; the REST API, the portal and the CLI all call these.
"""
