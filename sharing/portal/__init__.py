"""The member web portal: server-rendered pages over the same services as REST and TAXII.

Kept import-light on purpose: :mod:`sharing.portal.queries` and :mod:`sharing.portal.mfa` are
plain Python (no Flask) so benches and the CLI can use them; the blueprint lives in
:mod:`sharing.portal.web`. See docs/PORTAL.md.
"""
