"""Register :mod:`vsssim.strategies` with hypothesis whenever both are in use.

``st.from_type(WriterMetadata)`` draws valid documents only once :mod:`vsssim.strategies` has
registered its strategies; without them hypothesis builds the models field by field and draws
values their validators refuse.  Whichever of the two is imported second registers them:

* hypothesis runs :func:`_hypothesis_setup_hook` when it is imported (entry point group
  ``hypothesis`` in ``pyproject.toml``); it registers if vsssim's models are loaded already;
* :mod:`vsssim.documents` calls :func:`register_if_testing` when it is imported; it registers if
  hypothesis is loaded already.

Neither imports anything when the other side is not in use, so neither a plain hypothesis run
nor a plain vsssim program pays for the strategies.
"""

from __future__ import annotations

import sys


def register_if_testing() -> None:
    """Import :mod:`vsssim.strategies` (which registers its strategies) if hypothesis is
    loaded."""
    if "hypothesis" in sys.modules:
        import vsssim.strategies  # noqa: F401  (imported for its registrations)


def _hypothesis_setup_hook() -> None:
    """Hypothesis's entry point: register the strategies if vsssim's models are loaded."""
    if "vsssim.documents" in sys.modules:
        import vsssim.strategies  # noqa: F401  (imported for its registrations)
