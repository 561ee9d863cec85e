"""Coverage-guided fuzzing (atheris) of the parsers and normalisers; see targets.py."""
