"""pytest plugin entry point (``pytest11``).  Kept cheap to import: nothing heavy at import time."""
