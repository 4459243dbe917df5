"""What vssadmin prints: banner, state and error words, and the error text for an HRESULT.

Provenance of each text (see docs/cli.md): *observed* in captured Windows output (providers
reference §5.2), *recalled* from published sessions (not in the reference, believed exact), or
*simulator* wording where nothing public shows what Windows prints.
"""

from __future__ import annotations

from vsssim import hresult as hr
from vsssim.constants import WriterState

__all__ = ["BANNER", "NO_ITEMS", "OUTSIDE_CONTEXT", "VOLUME_NOT_FOUND", "error_text",
           "last_error_text", "writer_state_text"]

#: The two banner lines and the blank line every vssadmin command starts with (observed).
BANNER = (
    "vssadmin 1.1 - Volume Shadow Copy Service administrative command-line tool",
    "(C) Copyright 2001-2013 Microsoft Corp.",
    "",
)
#: An empty listing (observed).
NO_ITEMS = "No items found that satisfy the query."
#: Deleting copies made in another context (recalled).
OUTSIDE_CONTEXT = ("Snapshots were found, but they were outside of your allowed context.  Try "
                   "removing them with the backup application which created them.")
#: A volume spec that names no volume (recalled).
VOLUME_NOT_FOUND = "Error: Either the specified volume was not found or it is not a local volume."

_STATE_TEXT = {
    WriterState.UNKNOWN: "Unknown",
    WriterState.STABLE: "Stable",
    WriterState.WAITING_FOR_FREEZE: "Waiting for freeze",
    WriterState.WAITING_FOR_THAW: "Frozen",
    WriterState.WAITING_FOR_POST_SNAPSHOT: "Waiting for completion",
    WriterState.WAITING_FOR_BACKUP_COMPLETE: "Waiting for completion",
}

_LAST_ERROR: dict[int, str] = {
    hr.S_OK: "No error",
    hr.VSS_E_WRITERERROR_RETRYABLE: "Retryable error",
    hr.VSS_E_WRITERERROR_NONRETRYABLE: "Non-retryable error",
    hr.VSS_E_WRITERERROR_TIMEOUT: "Timed out",
    hr.VSS_E_WRITERERROR_INCONSISTENTSNAPSHOT: "Inconsistent shadow copy",
    hr.VSS_E_WRITERERROR_OUTOFRESOURCES: "Out of resources",
}

# Error lines by HRESULT.  Recalled from published sessions unless marked (simulator).
_ERRORS: dict[int, str] = {
    hr.VSS_E_INSUFFICIENT_STORAGE: "Error: Insufficient storage available to create either the "
                                   "shadow copy storage file or other shadow copy data.",
    hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS: "Error: Another shadow copy creation is already in "
                                       "progress. Please wait a few moments and try again.",
    hr.VSS_E_UNEXPECTED_PROVIDER_ERROR: "Error: The shadow copy provider had an unexpected error "
                                        "while trying to process the specified command.",
    hr.VSS_E_VOLUME_NOT_SUPPORTED: "Error: Shadow copying the specified volume is not supported.",
    hr.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER: "Error: Shadow copying the specified volume is "
                                               "not supported.",
    hr.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED: "Error: The maximum number of shadow copies "
                                                  "has been reached.",
    hr.VSS_E_HOLD_WRITES_TIMEOUT: "Error: The shadow copy provider timed out while holding "
                                  "writes to the volume being shadow copied.",  # (simulator)
    hr.VSS_E_FLUSH_WRITES_TIMEOUT: "Error: The system was unable to flush I/O writes.",
    hr.VSS_E_PROVIDER_VETO: "Error: The shadow copy provider vetoed the operation.",  # (sim.)
    hr.VSS_E_UNSUPPORTED_CONTEXT: "Error: Only shadow copies of a persistent type can be "
                                  "reverted to.",  # (simulator)
    hr.VSS_E_REVERT_IN_PROGRESS: "Error: A revert of this volume is already in progress.",
    hr.E_ACCESSDENIED: "Error: You don't have the correct permissions to run this command.",
}


def writer_state_text(state: WriterState) -> str:
    """``[n] text``: every failure state prints the single word ``Failed`` (rule 27)."""
    text = "Failed" if state.is_failed else _STATE_TEXT.get(state, "Unknown")
    return f"[{int(state)}] {text}"


def last_error_text(failure: int) -> str:
    """The word vssadmin prints for a writer's failure HRESULT (a word, not a number)."""
    return _LAST_ERROR.get(failure, "Unexpected error")


def error_text(code: int, fallback: str = "") -> str:
    """The ``Error: ...`` line for a failed operation's HRESULT (simulator wording, with the
    HRESULT, when vssadmin's own text is not known)."""
    known = _ERRORS.get(code)
    if known is not None:
        return known
    detail = f" {fallback}" if fallback else ""
    return f"Error: Unexpected failure: {hr.name_of(code)} (0x{hr.to_unsigned(code):08X}).{detail}"
