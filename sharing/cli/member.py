"""Member-side commands (hash, submit, match, pull): they run inside a member lab and never need
the server's database or keys. Filled in by the hashing-toolkit work."""
