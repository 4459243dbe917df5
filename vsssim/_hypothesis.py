"""Register :mod:`vsssim.strategies` with hypothesis, whichever of the two is imported first.

``st.from_type(WriterMetadata)`` draws valid documents only once :mod:`vsssim.strategies` has
registered its strategies; without them hypothesis builds the models field by field and draws
values their validators refuse.  So the modules that define the registered types
(:mod:`vsssim.documents`, :mod:`vsssim.faults`, :mod:`vsssim.testing.plans`) call
:func:`register_if_testing` with them when they are imported:

* if hypothesis is loaded already, as in every pytest session (pytest loads hypothesis's plugin
  first), each type gets a resolver that imports :mod:`vsssim.strategies` at its first
  ``st.from_type`` (whose own registrations then replace the resolvers);
* otherwise the types wait here, and hypothesis registers them when it is imported: it calls
  :func:`register_if_testing` with no types through its entry point (group ``hypothesis`` in
  ``pyproject.toml``), as it does for every installed package that has one.

Nothing is imported at registration, so no import order can make a cycle, and a program without
hypothesis pays nothing.  Importing hypothesis imports the ``vsssim`` package (its constants,
errors and HRESULTs, a few tens of milliseconds; a pytest session imports them anyway for the
plugin) and this module, nothing else; ``HYPOTHESIS_NO_PLUGINS=1`` turns entry points off.  The
entry point names :func:`register_if_testing`, which every version of this module has, so an
editable install whose checkout moves to an older commit still imports.  A checkout used
without installing it has no entry point: a script there that imports vsssim before hypothesis
imports :mod:`vsssim.strategies` itself.
"""

from __future__ import annotations

import sys
from typing import Any

# Types imported before hypothesis: registered when hypothesis is imported.
_waiting: list[type] = []


def register_if_testing(*types: type) -> None:
    """Have ``st.from_type`` draw each of ``types`` from :mod:`vsssim.strategies` (imported
    when first needed) if hypothesis is loaded; otherwise keep them until it is.  Hypothesis
    calls it with no types when it is imported (its entry point), which registers the kept
    ones."""
    if "hypothesis" not in sys.modules:
        _waiting.extend(types)
        return
    from hypothesis import strategies as st

    kinds = [*_waiting, *types]
    _waiting.clear()
    for kind in kinds:
        st.register_type_strategy(kind, _resolve)


def _resolve(kind: type) -> Any:
    """The strategy for ``kind``: :mod:`vsssim.strategies` registers it when imported."""
    from hypothesis import strategies as st

    import vsssim.strategies  # noqa: F401  (its registrations replace this resolver)

    return st.from_type(kind)
