"""Exceptions: one class per HRESULT that the simulator raises, each carrying its SDK value.

``VssError`` is abstract: it is never raised itself.  Every concrete subclass names exactly one
HRESULT (``VssObjectNotFoundError.hresult == VSS_E_OBJECT_NOT_FOUND``) and also derives from the
built-in exception that fits, so ordinary Python code can catch it without knowing VSS
(``except LookupError`` catches an unknown snapshot id).

Where Windows *reports* a failure instead of returning it (a writer veto, a writer timing out),
vsssim reports it the same way, through writer status; these classes are for calls that fail.

:func:`error_for` builds the right exception for an HRESULT, for code that receives HRESULTs from
providers or from an ``Async`` and has to turn them into Python exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from vsssim import hresult as hr

__all__ = [
    "VssAccessDeniedError",
    "VssBadStateError",
    "VssCannotRevertDiskIdError",
    "VssDirectoryNotEmptyError",
    "VssError",
    "VssFileExistsError",
    "VssFileNotFoundError",
    "VssFlushWritesTimeoutError",
    "VssHoldWritesTimeoutError",
    "VssInsufficientStorageError",
    "VssInvalidArgumentError",
    "VssInvalidXmlDocumentError",
    "VssIsADirectoryError",
    "VssMaximumDiffAreaAssociationsReachedError",
    "VssMaximumNumberOfSnapshotsReachedError",
    "VssMaximumNumberOfVolumesReachedError",
    "VssNestedVolumeLimitError",
    "VssNoSnapshotsImportedError",
    "VssNonTransportableBcdError",
    "VssNotADirectoryError",
    "VssNotImplementedError",
    "VssNotSupportedError",
    "VssObjectAlreadyExistsError",
    "VssObjectNotFoundError",
    "VssOutOfMemoryError",
    "VssProviderAlreadyRegisteredError",
    "VssProviderInUseError",
    "VssProviderNotRegisteredError",
    "VssProviderVetoError",
    "VssRebootRequiredError",
    "VssRevertInProgressError",
    "VssSnapshotNotInSetError",
    "VssSnapshotSetInProgressError",
    "VssSomeSnapshotsNotImportedError",
    "VssStoreCorruptError",
    "VssTransactionFreezeTimeoutError",
    "VssTransactionThawTimeoutError",
    "VssUnexpectedError",
    "VssUnexpectedProviderError",
    "VssUnexpectedWriterError",
    "VssUnsupportedContextError",
    "VssVolumeInUseError",
    "VssVolumeNotSupportedByProviderError",
    "VssVolumeNotSupportedError",
    "VssWriterAlreadySubscribedError",
    "VssWriterInfrastructureError",
    "VssWriterNotRespondingError",
    "error_class_for",
    "error_for",
]

_BY_HRESULT: dict[int, type[VssError]] = {}


class VssError(Exception):
    """Base of every vsssim error.  Abstract: raise one of its subclasses.

    ``hresult`` is the documented Windows HRESULT (unsigned 32-bit) of the failure, ``hresult_name``
    its SDK name.  The message says what happened and, where there is one, what to do instead.
    """

    hresult: ClassVar[int] = 0

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.hresult:
            if cls.hresult in _BY_HRESULT and not issubclass(cls, _BY_HRESULT[cls.hresult]):
                raise TypeError(f"two error classes for {hr.name_of(cls.hresult)}")
            _BY_HRESULT.setdefault(cls.hresult, cls)

    def __new__(cls, *args: object, **kwargs: object) -> VssError:
        if cls.hresult == 0:
            raise TypeError(f"{cls.__name__} is abstract; raise one of its subclasses")
        if issubclass(cls, OSError):
            # OSError subclasses have their own C layout and must be built by OSError.__new__.
            return OSError.__new__(cls, *args)
        return super().__new__(cls, *args)

    def __init__(self, message: str = "") -> None:
        super().__init__(message or hr.MEANINGS.get(self.hresult_name, ""))
        self.message = str(self.args[0]) if self.args else ""

    @property
    def hresult_name(self) -> str:
        """SDK name of :attr:`hresult` (``"VSS_E_BAD_STATE"``)."""
        return hr.name_of(self.hresult)

    def __str__(self) -> str:
        return f"{self.message} [{self.hresult_name} 0x{self.hresult:08X}]"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.message,))


# OSError subclasses take (errno, strerror) positionally; keep a plain message instead.
class _OSErrorMixin(VssError, OSError):
    def __init__(self, message: str = "") -> None:
        VssError.__init__(self, message)


# --------------------------------------------------------------------------- sequence / state
class VssBadStateError(VssError, RuntimeError):
    """``VSS_E_BAD_STATE``: a call made in the wrong state or order.

    ``state`` is the object's current state, ``call`` the call that was refused and ``legal`` the
    calls that are legal now.  Nothing changed: the object is exactly as before the call.
    Remedy: make one of the ``legal`` calls first (the message lists them).
    """

    hresult = hr.VSS_E_BAD_STATE

    def __init__(
        self,
        message: str = "",
        *,
        state: str = "",
        call: str = "",
        legal: Iterable[str] = (),
    ) -> None:
        self.state = state
        self.call = call
        self.legal: tuple[str, ...] = tuple(legal)
        if not message:
            message = f"{call or 'this call'} is not legal in state {state or '?'}"
            message += (
                f"; legal now: {', '.join(self.legal)}" if self.legal else "; no call is legal now"
            )
        super().__init__(message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_bad_state, (self.message, self.state, self.call, self.legal))


def _rebuild_bad_state(
    message: str, state: str, call: str, legal: tuple[str, ...]
) -> VssBadStateError:
    return VssBadStateError(message, state=state, call=call, legal=legal)


class VssUnexpectedError(VssError, RuntimeError):
    """``VSS_E_UNEXPECTED``: an internal error of the simulated VSS service."""

    hresult = hr.VSS_E_UNEXPECTED


class VssSnapshotSetInProgressError(VssError, RuntimeError):
    """``VSS_E_SNAPSHOT_SET_IN_PROGRESS``: another snapshot-set creation runs on this machine.

    Only one creation at a time, from ``StartSnapshotSet`` until ``DoSnapshotSet`` returns.
    Remedy: wait for the other requester (or release it) and retry.
    """

    hresult = hr.VSS_E_SNAPSHOT_SET_IN_PROGRESS


class VssRevertInProgressError(VssError, RuntimeError):
    """``VSS_E_REVERT_IN_PROGRESS``: the volume is already being reverted."""

    hresult = hr.VSS_E_REVERT_IN_PROGRESS


class VssVolumeInUseError(VssError, RuntimeError):
    """``VSS_E_VOLUME_IN_USE``: the volume or storage association is in use."""

    hresult = hr.VSS_E_VOLUME_IN_USE


class VssRebootRequiredError(VssError, RuntimeError):
    """``VSS_E_REBOOT_REQUIRED``: the simulated machine must be rebooted first (``reboot()``)."""

    hresult = hr.VSS_E_REBOOT_REQUIRED


# ---------------------------------------------------------------------------------- lookups
class VssObjectNotFoundError(VssError, LookupError):
    """``VSS_E_OBJECT_NOT_FOUND``: no such component, writer, volume, snapshot or file set."""

    hresult = hr.VSS_E_OBJECT_NOT_FOUND


class VssProviderNotRegisteredError(VssError, LookupError):
    """``VSS_E_PROVIDER_NOT_REGISTERED``: no provider with that id is registered."""

    hresult = hr.VSS_E_PROVIDER_NOT_REGISTERED


class VssSnapshotNotInSetError(VssError, LookupError):
    """``VSS_E_SNAPSHOT_NOT_IN_SET``: the snapshot id is not part of the document's set."""

    hresult = hr.VSS_E_SNAPSHOT_NOT_IN_SET


class VssObjectAlreadyExistsError(VssError, ValueError):
    """``VSS_E_OBJECT_ALREADY_EXISTS``: the object (component, association, ...) already exists."""

    hresult = hr.VSS_E_OBJECT_ALREADY_EXISTS


class VssProviderAlreadyRegisteredError(VssError, ValueError):
    """``VSS_E_PROVIDER_ALREADY_REGISTERED``: a provider with that id is already registered."""

    hresult = hr.VSS_E_PROVIDER_ALREADY_REGISTERED


class VssProviderInUseError(VssError, RuntimeError):
    """``VSS_E_PROVIDER_IN_USE``: the provider is in use and cannot be unregistered."""

    hresult = hr.VSS_E_PROVIDER_IN_USE


# ------------------------------------------------------------------------ arguments / support
class VssInvalidArgumentError(VssError, ValueError):
    """``E_INVALIDARG``: one of the parameters is not valid; the message names it."""

    hresult = hr.E_INVALIDARG


class VssInvalidXmlDocumentError(VssError, ValueError):
    """``VSS_E_INVALID_XML_DOCUMENT``: the XML is malformed, hostile or not a VSS document.

    Nothing was loaded.  Documents with a DTD or entities, over the size limit or nested too
    deeply are refused before they are parsed.
    """

    hresult = hr.VSS_E_INVALID_XML_DOCUMENT


class VssVolumeNotSupportedError(VssError, ValueError):
    """``VSS_E_VOLUME_NOT_SUPPORTED``: no provider supports shadow copies of the volume."""

    hresult = hr.VSS_E_VOLUME_NOT_SUPPORTED


class VssVolumeNotSupportedByProviderError(VssError, ValueError):
    """``VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER``: the chosen provider does not support it."""

    hresult = hr.VSS_E_VOLUME_NOT_SUPPORTED_BY_PROVIDER


class VssUnsupportedContextError(VssError, ValueError):
    """``VSS_E_UNSUPPORTED_CONTEXT``: the context is not supported (provider, edition, call)."""

    hresult = hr.VSS_E_UNSUPPORTED_CONTEXT


class VssNotSupportedError(VssError, ValueError):
    """``VSS_E_NOT_SUPPORTED``: the operation is not supported."""

    hresult = hr.VSS_E_NOT_SUPPORTED


class VssNestedVolumeLimitError(VssError, ValueError):
    """``VSS_E_NESTED_VOLUME_LIMIT``: the volume is nested too deeply to be shadow-copied."""

    hresult = hr.VSS_E_NESTED_VOLUME_LIMIT


class VssNonTransportableBcdError(VssError, ValueError):
    """``VSS_E_NONTRANSPORTABLE_BCD``: the operation needs a transportable snapshot's document."""

    hresult = hr.VSS_E_NONTRANSPORTABLE_BCD


class VssNotImplementedError(VssError, NotImplementedError):
    """``E_NOTIMPL``: the provider (or the simulated Windows version) does not implement this."""

    hresult = hr.E_NOTIMPL


class VssAccessDeniedError(VssError, PermissionError):
    """``E_ACCESSDENIED``: access denied (the snapshot or exported image is read-only)."""

    hresult = hr.E_ACCESSDENIED

    def __init__(self, message: str = "") -> None:
        VssError.__init__(self, message)


class VssOutOfMemoryError(VssError, RuntimeError):
    """``E_OUTOFMEMORY``: a provider or writer ran out of memory.

    Not a ``MemoryError``: that built-in is reserved for the interpreter itself.
    """

    hresult = hr.E_OUTOFMEMORY


# ------------------------------------------------------------------------------------- limits
class VssMaximumNumberOfVolumesReachedError(VssError, RuntimeError):
    """``VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED``: a snapshot set holds at most 64 volumes."""

    hresult = hr.VSS_E_MAXIMUM_NUMBER_OF_VOLUMES_REACHED


class VssMaximumNumberOfSnapshotsReachedError(VssError, RuntimeError):
    """``VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED``: the volume has its maximum of shadow copies.

    Remedy: delete old shadow copies of the volume (512 per volume by default).
    """

    hresult = hr.VSS_E_MAXIMUM_NUMBER_OF_SNAPSHOTS_REACHED


class VssMaximumDiffAreaAssociationsReachedError(VssError, RuntimeError):
    """``VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED``: too many shadow-storage associations."""

    hresult = hr.VSS_E_MAXIMUM_DIFFAREA_ASSOCIATIONS_REACHED


class VssInsufficientStorageError(_OSErrorMixin):
    """``VSS_E_INSUFFICIENT_STORAGE``: not enough space (diff area, volume or file system).

    Remedy: delete old shadow copies, enlarge the shadow storage, or free space on the volume.
    """

    hresult = hr.VSS_E_INSUFFICIENT_STORAGE


# ----------------------------------------------------------------------------------- timeouts
class VssFlushWritesTimeoutError(_OSErrorMixin, TimeoutError):
    """``VSS_E_FLUSH_WRITES_TIMEOUT``: flushing writes to a volume of the set timed out."""

    hresult = hr.VSS_E_FLUSH_WRITES_TIMEOUT


class VssHoldWritesTimeoutError(_OSErrorMixin, TimeoutError):
    """``VSS_E_HOLD_WRITES_TIMEOUT``: writes were held longer than the 10 s the kernel allows."""

    hresult = hr.VSS_E_HOLD_WRITES_TIMEOUT


class VssTransactionFreezeTimeoutError(_OSErrorMixin, TimeoutError):
    """``VSS_E_TRANSACTION_FREEZE_TIMEOUT``: KTM/DTC transactions could not be frozen in time."""

    hresult = hr.VSS_E_TRANSACTION_FREEZE_TIMEOUT


class VssTransactionThawTimeoutError(_OSErrorMixin, TimeoutError):
    """``VSS_E_TRANSACTION_THAW_TIMEOUT``: too long between freezing and thawing transactions."""

    hresult = hr.VSS_E_TRANSACTION_THAW_TIMEOUT


# ---------------------------------------------------------------------- providers / writers
class VssProviderVetoError(VssError, RuntimeError):
    """``VSS_E_PROVIDER_VETO``: the provider refused or failed; may be transient (retry later)."""

    hresult = hr.VSS_E_PROVIDER_VETO


class VssCannotRevertDiskIdError(VssError, RuntimeError):
    """``VSS_E_CANNOT_REVERT_DISKID``: a disk's MBR signature or GPT id could not be set.

    One of the codes a provider may return (providers reference §2.5): VSS passes it on to the
    requester untranslated.
    """

    hresult = hr.VSS_E_CANNOT_REVERT_DISKID


class VssUnexpectedProviderError(VssError, RuntimeError):
    """``VSS_E_UNEXPECTED_PROVIDER_ERROR``: a provider returned a code outside the allowed list."""

    hresult = hr.VSS_E_UNEXPECTED_PROVIDER_ERROR


class VssUnexpectedWriterError(VssError, RuntimeError):
    """``VSS_E_UNEXPECTED_WRITER_ERROR``: events could not be delivered, or a writer vetoed.

    The detail of each writer is in its status (``gather_writer_status``).
    """

    hresult = hr.VSS_E_UNEXPECTED_WRITER_ERROR


class VssWriterInfrastructureError(VssError, RuntimeError):
    """``VSS_E_WRITER_INFRASTRUCTURE``: writers cannot be reached."""

    hresult = hr.VSS_E_WRITER_INFRASTRUCTURE


class VssWriterNotRespondingError(VssError, RuntimeError):
    """``VSS_E_WRITER_NOT_RESPONDING``: a writer did not answer (crashed or hung)."""

    hresult = hr.VSS_E_WRITER_NOT_RESPONDING


class VssWriterAlreadySubscribedError(VssError, RuntimeError):
    """``VSS_E_WRITER_ALREADY_SUBSCRIBED``: the writer object is already subscribed."""

    hresult = hr.VSS_E_WRITER_ALREADY_SUBSCRIBED


# ------------------------------------------------------------------------------------ import
class VssNoSnapshotsImportedError(VssError, RuntimeError):
    """``VSS_E_NO_SNAPSHOTS_IMPORTED``: nothing could be imported."""

    hresult = hr.VSS_E_NO_SNAPSHOTS_IMPORTED


class VssSomeSnapshotsNotImportedError(VssError, RuntimeError):
    """``VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED``: only part of the set could be imported."""

    hresult = hr.VSS_E_SOME_SNAPSHOTS_NOT_IMPORTED


# ------------------------------------------------------------------------------ storage / files
class VssStoreCorruptError(VssUnexpectedError):
    """A diff area, index or file-system structure failed its checksum or consistency check.

    Raised instead of ever serving corrupted data; nothing was changed.  ``VSS_E_UNEXPECTED``.
    """


class _FileErrorMixin(VssError, OSError):
    def __init__(self, message: str = "") -> None:
        VssError.__init__(self, message)


class VssFileNotFoundError(VssObjectNotFoundError, _FileErrorMixin, FileNotFoundError):
    """No such file or directory on the simulated volume (``VSS_E_OBJECT_NOT_FOUND``)."""


class VssFileExistsError(VssObjectAlreadyExistsError, _FileErrorMixin, FileExistsError):
    """The file or directory already exists on the simulated volume."""


class VssNotADirectoryError(VssInvalidArgumentError, _FileErrorMixin, NotADirectoryError):
    """A path component is a file where a directory was needed (``E_INVALIDARG``)."""


class VssIsADirectoryError(VssInvalidArgumentError, _FileErrorMixin, IsADirectoryError):
    """The path names a directory where a file was needed (``E_INVALIDARG``)."""


class VssDirectoryNotEmptyError(VssInvalidArgumentError, _FileErrorMixin):
    """The directory cannot be removed because it is not empty (``E_INVALIDARG``)."""


def error_class_for(code: int) -> type[VssError]:
    """The exception class for an HRESULT.  ``LookupError`` if vsssim never raises that code."""
    try:
        return _BY_HRESULT[hr.to_unsigned(code)]
    except KeyError:
        raise LookupError(f"no exception class for {hr.name_of(code)}") from None


def error_for(code: int, message: str = "") -> VssError:
    """An exception instance for an HRESULT (``VssUnexpectedError`` for an unclassed code)."""
    try:
        cls = error_class_for(code)
    except LookupError:
        return VssUnexpectedError(f"{message or 'operation failed'} ({hr.describe(code)})")
    return cls(message)
