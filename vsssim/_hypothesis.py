"""Register :mod:`vsssim.strategies` with hypothesis when vsssim's types are imported after it.

``st.from_type(WriterMetadata)`` draws valid documents only once :mod:`vsssim.strategies` has
registered its strategies; without them hypothesis builds the models field by field and draws
values their validators refuse.  So the modules that define the registered types
(:mod:`vsssim.documents`, :mod:`vsssim.faults`, :mod:`vsssim.testing.plans`) call
:func:`register_if_testing` with them when they are imported: if hypothesis is loaded already,
as in every pytest session (pytest loads hypothesis's plugin first), each type gets a resolver
that imports :mod:`vsssim.strategies` at its first ``st.from_type`` (whose own registrations
then replace the resolvers).  Nothing is imported at registration, so no import order can make
a cycle.  A program that imports vsssim first and hypothesis afterwards imports
:mod:`vsssim.strategies` itself; a program without hypothesis pays nothing.

(A hypothesis entry point would cover that other order too, but hypothesis imports every entry
point's module whenever it is imported, in every program of the environment, and fails to
import at all if that module is missing, as in an older checkout of an editable install.)
"""

from __future__ import annotations

import sys
from typing import Any


def register_if_testing(*types: type) -> None:
    """If hypothesis is loaded, have ``st.from_type`` draw each of ``types`` from
    :mod:`vsssim.strategies` (imported when first needed)."""
    if "hypothesis" not in sys.modules:
        return
    from hypothesis import strategies as st

    for kind in types:
        st.register_type_strategy(kind, _resolve)


def _resolve(kind: type) -> Any:
    """The strategy for ``kind``: :mod:`vsssim.strategies` registers it when imported."""
    from hypothesis import strategies as st

    import vsssim.strategies  # noqa: F401  (its registrations replace this resolver)

    return st.from_type(kind)
