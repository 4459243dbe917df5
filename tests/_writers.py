"""Writers shared by tests."""

from __future__ import annotations

from vsssim.writer import Writer


class ReadyWriter(Writer):
    """A writer with nothing to flush or freeze: the four required handlers (CVssWriter's pure
    virtual ones) say yes.  Tests subclass it and write only the handlers they are about."""

    def on_prepare_snapshot(self) -> bool:
        return True

    def on_freeze(self) -> bool:
        return True

    def on_thaw(self) -> bool:
        return True

    def on_abort(self) -> bool:
        return True
