"""Keep the garbage collector off the objects a worker holds for its whole life.

Why: after start-up a worker's heap (Flask, SQLAlchemy, stix2, marshmallow, the app) is ~140,000
objects the cyclic collector tracks. A TAXII page of 1,000 objects or a large match allocates
enough to trigger a full (generation 2) collection about every page or two, and each walked that
whole start-up heap: ~55 ms apiece, measured with ``gc.callbacks`` while profiling feed pages.
``gc.freeze()`` moves everything that exists once the app is built into the permanent generation,
so full collections only walk what requests created. Called by the WSGI entry points (``app.py``,
``palisade serve``), not by ``create_app``: tests build and throw away many apps and must be able
to collect them.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Collect start-up garbage once, then exempt the survivors from later collections."""
    gc.collect()
    gc.freeze()
