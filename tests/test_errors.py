"""vsssim.errors: one class per raised HRESULT, fitting built-ins, clear messages."""

from __future__ import annotations

import pickle

import pytest

from vsssim import errors, hresult
from vsssim.errors import (
    VssBadStateError,
    VssError,
    VssFileNotFoundError,
    VssHoldWritesTimeoutError,
    VssInsufficientStorageError,
    VssObjectNotFoundError,
    error_class_for,
    error_for,
)

ALL_CLASSES = [
    getattr(errors, n) for n in errors.__all__ if isinstance(getattr(errors, n), type)
]


def test_vss_error_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        VssError("nope")


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
def test_every_class_carries_a_documented_hresult_and_a_builtin(cls: type[VssError]) -> None:
    if cls is VssError:
        return
    assert hresult.lookup(cls.hresult)  # a real, documented code
    builtin_bases = [b for b in cls.__mro__ if b.__module__ == "builtins" and b is not object]
    assert any(b not in (Exception, BaseException) for b in builtin_bases), cls
    err = cls("something went wrong")
    assert err.hresult == cls.hresult
    assert "something went wrong" in str(err)
    assert err.hresult_name in str(err)
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is cls and str(again) == str(err)


def test_fitting_builtins() -> None:
    assert issubclass(VssObjectNotFoundError, LookupError)
    assert issubclass(VssFileNotFoundError, FileNotFoundError)
    assert issubclass(VssFileNotFoundError, VssObjectNotFoundError)
    assert issubclass(VssHoldWritesTimeoutError, TimeoutError)
    assert issubclass(VssInsufficientStorageError, OSError)
    assert issubclass(errors.VssInvalidArgumentError, ValueError)
    assert issubclass(errors.VssAccessDeniedError, PermissionError)


def test_bad_state_names_state_call_and_legal_calls() -> None:
    err = VssBadStateError(
        state="BackupInitialized", call="DoSnapshotSet", legal=["SetContext", "StartSnapshotSet"]
    )
    text = str(err)
    assert "DoSnapshotSet" in text and "BackupInitialized" in text
    assert "SetContext, StartSnapshotSet" in text
    assert err.legal == ("SetContext", "StartSnapshotSet")
    assert err.hresult == hresult.VSS_E_BAD_STATE
    clone = pickle.loads(pickle.dumps(err))
    assert (clone.state, clone.call, clone.legal) == (err.state, err.call, err.legal)


def test_error_for_maps_codes_to_classes() -> None:
    assert type(error_for(hresult.VSS_E_OBJECT_NOT_FOUND, "x")) is VssObjectNotFoundError
    assert error_class_for(hresult.to_signed(hresult.VSS_E_BAD_STATE)) is VssBadStateError
    # A code no class stands for still becomes a VssError, naming the code.
    err = error_for(hresult.VSS_E_ASRERROR_NO_ARCPATH, "asr")
    assert isinstance(err, VssError) and "VSS_E_ASRERROR_NO_ARCPATH" in str(err)
    with pytest.raises(LookupError):
        error_class_for(hresult.VSS_E_ASRERROR_NO_ARCPATH)
