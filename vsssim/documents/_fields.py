"""Field types and naming rules shared by the VSS documents.

The documents are pydantic models, and pydantic runs these checks whenever a model is built,
loaded from XML or (for the mutable models) assigned to.  Two kinds of rule live here:

* **XML carriage.**  Every string field is :data:`XmlText`: text that XML 1.0 can carry.  Control
  characters other than tab, newline and carriage return, lone surrogates and U+FFFE/U+FFFF are
  refused, so that every valid model serialises and loads back equal.
* **The documented naming rules** of ``IVssCreateWriterMetadata`` and ``IVssBackupComponents``
  (reference section 6.4 and 8.1): logical paths, component names, file paths and file specs.

Each rule is a plain function that raises ``ValueError`` with a message that does not name the
argument; the model layer (pydantic puts the field name in front) and the builder (which puts the
SDK argument name in front) add the name.

Enumerations are stored as the :mod:`vsssim.constants` classes.  Models are ``strict``, so a
string or a bool is never silently coerced into an enumeration, a number or a flag; a plain
``int`` is accepted and turned into the member (the SDK passes enumerations as integers), and an
integer that is not a member (or a mask with undefined bits) is refused with the SDK type's name.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from enum import IntEnum, IntFlag
from typing import Annotated, Any, ClassVar, Final, Self, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined

from vsssim import hresult as hr
from vsssim.constants import (
    SDK_TYPES,
    BackupSchema,
    BackupType,
    ComponentFlags,
    ComponentType,
    FileRestoreStatus,
    FileSpecBackupType,
    ProviderType,
    RestoreMethod,
    RestoreTarget,
    RestoreType,
    RollforwardType,
    SnapshotState,
    SourceType,
    UsageType,
    WriterRestore,
    WriterState,
)

__all__ = [
    "DocumentModel",
    "RecordModel",
    "ValueModel",
    "check_component_name",
    "check_dependency_name",
    "check_dependency_path",
    "check_file_name",
    "check_filespec",
    "check_logical_path",
    "check_xml_text",
    "coerce_enum",
    "coerce_flags",
    "enum_argument",
    "fold",
    "full_path",
    "is_remote",
    "model_error_text",
    "normalise_file_path",
    "normalise_optional_file_path",
    "sdk_type_name",
    "split_logical_path",
    "trusted",
]

# ------------------------------------------------------------------------------ model bases


class DocumentModel(BaseModel):
    """Base of the mutable document models (the BCD and its parts, a WMD component).

    ``validate_assignment`` keeps an assigned field as valid as a constructed one, so a document
    that the coordinator or a writer edits still serialises.  (Appending to a list field is not
    checked; the document-level validators run again when the document is loaded or copied
    through ``model_validate``.)
    """

    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True)

    # Set per class by __pydantic_init_subclass__: the text (XmlText) and bool fields, whose
    # check of an assigned value is its type (and, for text, that it was accepted before),
    # and the model's "after" validators (empty sets if it has validators of another kind).
    _quick_text: ClassVar[frozenset[str]] = frozenset()
    _quick_bool: ClassVar[frozenset[str]] = frozenset()
    _after_checks: ClassVar[tuple[Callable[[Any], Any], ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        decorators = cls.__pydantic_decorators__
        validators = list(decorators.model_validators.values())
        if (decorators.field_validators or decorators.validators or decorators.root_validators
                or any(v.info.mode != "after" for v in validators)):
            cls._quick_text = cls._quick_bool = frozenset()
            cls._after_checks = ()
            return
        text = [AfterValidator(check_xml_text)]
        fields = [(name, info) for name, info in cls.__pydantic_fields__.items()
                  if not info.frozen]
        cls._quick_text = frozenset(name for name, info in fields
                                    if info.annotation is str and info.metadata == text)
        cls._quick_bool = frozenset(name for name, info in fields
                                    if info.annotation is bool and not info.metadata)
        cls._after_checks = tuple(v.func for v in validators)

    def __setattr__(self, name: str, value: Any) -> None:
        values = self.__dict__
        if name not in values:
            super().__setattr__(name, value)
            return
        old = values[name]
        cls = type(self)
        if (name in cls._quick_text and type(value) is str and value in _XML_TEXTS) or (
                name in cls._quick_bool and type(value) is bool):
            # A value its field takes as it is: what validate_assignment does, without its
            # machinery (the value in place, the model's "after" validators, the field set).
            # If a validator refuses, pydantic below raises its error.
            values[name] = value
            try:
                for check in cls._after_checks:
                    check(self)
            except Exception:
                values[name] = old
            else:
                self.__pydantic_fields_set__.add(name)
                return
        # pydantic stores an assigned value *before* it runs the model's "after" validators,
        # so a refused assignment would leave the bad value behind; put the old one back.
        was_set = name in self.__pydantic_fields_set__
        try:
            super().__setattr__(name, value)
        except ValidationError:
            self.__dict__[name] = old  # (validation may have replaced the __dict__ object)
            if not was_set:
                self.__pydantic_fields_set__.discard(name)
            raise

    def _assign_checked(self, name: str, value: Any) -> None:
        """Set field ``name`` to a value the caller built and checked itself, without
        ``validate_assignment`` (which runs the whole-document validators again).  For the
        builders, whose every call checks its arguments and keeps the document's rules."""
        if name not in type(self).__pydantic_fields__:  # (model_fields: a property, dearer)
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        self.__dict__[name] = value
        self.__pydantic_fields_set__.add(name)

    def clone(self) -> Self:
        """A deep copy, as ``model_copy(deep=True)`` makes, that shares the frozen parts (file
        sets, identities, records) instead of copying them: they cannot change, and copying
        them is most of the cost of pydantic's generic deep copy."""
        cls = type(self)
        new = cls.__new__(cls)
        source = self.__dict__
        values = dict(source)
        # Only the mutable values are replaced by copies, in this one loop: a list is copied
        # here, its models by their own clone (no call per shared value, list or element).
        for name in source:
            value = source[name]
            kind = _KINDS[type(value)]
            if kind == _SHARE:
                continue
            if kind == _LIST:
                values[name] = copied = [*value]
                for i, item in enumerate(value):
                    item_kind = _KINDS[type(item)]
                    if item_kind == _MODEL:
                        copied[i] = item.clone()
                    elif item_kind != _SHARE:
                        copied[i] = _clone(item)
            elif kind == _MODEL:
                values[name] = value.clone()
            else:
                values[name] = _clone(value)
        object.__setattr__(new, "__dict__", values)
        object.__setattr__(new, "__pydantic_fields_set__", set(self.__pydantic_fields_set__))
        object.__setattr__(new, "__pydantic_extra__", None)
        object.__setattr__(new, "__pydantic_private__", None)
        return new


# How _clone copies a value, by its exact type (learnt at the first value of each type, so
# that a document is copied with one subscript per value: no call, no isinstance chain).
_SHARE, _MODEL, _LIST, _DICT, _TUPLE, _DEEP = range(6)


class _Kinds(dict[type, int]):
    def __missing__(self, cls: type) -> int:
        return _kind(cls)


_KINDS: Final = _Kinds()


def _kind(cls: type) -> int:
    if issubclass(cls, DocumentModel):
        kind = _MODEL
    elif issubclass(cls, list):
        kind = _LIST
    elif issubclass(cls, dict):
        kind = _DICT
    elif issubclass(cls, tuple):
        kind = _TUPLE
    elif issubclass(cls, bytearray | set):
        kind = _DEEP
    else:
        kind = _SHARE  # immutable: scalars, enums, UUIDs, bytes, frozen models
    _KINDS[cls] = kind
    return kind


def _clone(value: Any) -> Any:
    kind = _KINDS[type(value)]
    if kind == _SHARE:
        return value
    if kind == _MODEL:
        return value.clone()
    if kind == _LIST:
        if not value:
            return []  # (most lists of a document are empty: no comprehension to run)
        return [v if _KINDS[type(v)] == _SHARE else _clone(v) for v in value]
    if kind == _DICT:
        return {k: _clone(v) for k, v in value.items()}
    if kind == _TUPLE:
        return tuple(_clone(v) for v in value)
    return copy.deepcopy(value)


_M = TypeVar("_M", bound=BaseModel)


@functools.cache
def _field_plan(cls: type[BaseModel]) -> tuple[dict[str, Any], tuple[tuple[str, Any], ...],
                                               tuple[str, ...]]:
    """Of the fields of ``cls``: every field with its default in field order (a required
    field or one with a factory holds ``PydanticUndefined``), the (name, factory) pairs, the
    required names."""
    template = {name: info.default if info.default_factory is None else PydanticUndefined
                for name, info in cls.model_fields.items()}
    factories = tuple((name, info.default_factory) for name, info in cls.model_fields.items()
                      if info.default_factory is not None)
    required = tuple(name for name, info in cls.model_fields.items()
                     if info.default_factory is None and info.default is PydanticUndefined)
    return template, factories, required


def trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An instance of ``cls`` holding ``values``, without running pydantic's validation.

    For the builders only: every value was checked (and converted: enumeration members,
    normalised paths) one argument at a time before the call, and the builder keeps the
    model's rules itself, so validating again would only repeat the same checks.  The result
    is the instance the validating constructor makes (same field order, same set fields, the
    same defaults for the fields not given: immutable values, or a new list per factory).
    """
    template, factories, required = _field_plan(cls)
    data = template.copy()
    data.update(values)  # (an existing key keeps its place: the fields stay in order)
    if len(data) != len(template):
        raise TypeError(f"{cls.__name__}: unknown field(s) {sorted(data.keys() - template)}")
    for name, factory in factories:
        if name not in values:
            data[name] = factory()
    for name in required:
        if name not in values:
            raise TypeError(f"{cls.__name__}: required field {name!r} is missing")
    new = cls.__new__(cls)
    object.__setattr__(new, "__dict__", data)
    object.__setattr__(new, "__pydantic_fields_set__", set(values))
    object.__setattr__(new, "__pydantic_extra__", None)
    object.__setattr__(new, "__pydantic_private__", None)
    return new


class ValueModel(BaseModel):
    """Base of the immutable parts of a writer metadata document (file sets, dependencies)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class RecordModel(BaseModel):
    """Base of the status and property records (``VSS_SNAPSHOT_PROP`` and friends): frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ------------------------------------------------------------------------------ text rules

# XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
_XML_ILLEGAL: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# Unicode category Cc (C0 and C1 controls and DEL): refused in names and paths, where a tab or a
# newline is almost certainly a bug in the caller, although XML could carry it.
_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_WILDCARD: Final = re.compile(r"[*?]")


def _describe_char(text: str, index: int) -> str:
    return f"U+{ord(text[index]):04X} at index {index}"


def check_xml_text(value: str) -> str:
    """Refuse text that XML 1.0 cannot carry (most control characters, lone surrogates)."""
    if type(value) is str and value in _XML_TEXTS:  # (an unhashable value: the old error)
        return value
    bad = _XML_ILLEGAL.search(value)
    if bad is not None:
        raise ValueError(
            f"character {_describe_char(value, bad.start())} cannot be carried by XML 1.0"
        )
    if type(value) is str:
        if len(_XML_TEXTS) >= 4096:
            _XML_TEXTS.clear()
        _XML_TEXTS.add(value)
    return value


# Texts check_xml_text accepted: every record and document built carries the same names again
# (a membership test, where the check is a regex search).  Bounded: cleared when full.
_XML_TEXTS: Final[set[str]] = set()


def _check_no_control(value: str, what: str) -> None:
    check_xml_text(value)
    bad = _CONTROL.search(value)
    if bad is not None:
        raise ValueError(
            f"{what} contains the control character {_describe_char(value, bad.start())}"
        )


def fold(text: str) -> str:
    """Case-fold ``text`` for comparison the way Windows compares names: character by character.

    Windows upper-cases each UTF-16 unit on its own (``RtlUpcaseUnicodeChar``), so a character
    whose upper case is longer (German sharp s) stays as it is.  Logical paths, component names,
    file paths and file specs all compare this way.
    """
    # (Anything but a str takes the uncached path: an unhashable value fails as it always did.)
    return _FOLDED[text] if type(text) is str else _fold(text)


def _fold(text: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"a name must be a str, not {type(text).__name__}: {text!r}")
    if text.isascii():
        return text.upper()
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


class _Folded(dict[str, str]):
    """Folded names by name: the same few names are compared again and again (every key of
    every component and file set), and a hit is a subscript, not two string method calls.
    Bounded: cleared when full."""

    def __missing__(self, text: str) -> str:
        folded = _fold(text)
        if len(self) >= 4096:
            self.clear()
        if type(text) is str:  # (a str subclass could hash or compare differently)
            self[text] = folded
        return folded


#: ``fold(text)`` is ``_FOLDED[text]``: the documents' key properties subscript it directly.
_FOLDED: Final = _Folded()


def split_logical_path(logical_path: str) -> list[str]:
    """The backslash-separated elements of a logical path (``[]`` for the root, ``""``)."""
    return logical_path.split("\\") if logical_path else []


def full_path(logical_path: str | None, name: str) -> str:
    """A component's full path: logical path, backslash, name; just the name at the root."""
    return f"{logical_path}\\{name}" if logical_path else name


def check_logical_path(value: str) -> str:
    """A logical path (reference 8.1): ``""`` is the root; otherwise backslash-separated
    non-empty elements, no leading or trailing backslash, no control characters.
    """
    if value == "":
        return value
    _check_no_control(value, "logical path")
    if value.startswith("\\"):
        raise ValueError(
            "a logical path must not start with a backslash (the root is the empty path; only a "
            "dependency target may carry a remote \\\\Computer\\ prefix)"
        )
    if value.endswith("\\"):
        raise ValueError("a logical path must not end with a backslash")
    if "\\\\" in value:
        raise ValueError("a logical path must not contain an empty element (two backslashes)")
    return value


def check_component_name(value: str) -> str:
    """A component name: required (non-empty), no backslash, no control characters."""
    if value == "":
        raise ValueError("a component name is required (it must not be empty)")
    _check_no_control(value, "component name")
    if "\\" in value:
        raise ValueError("a component name must not contain a backslash")
    return value


def _split_remote(value: str) -> tuple[str, str] | None:
    """``("Computer", rest)`` for ``\\\\Computer\\rest``, None for a local value."""
    if not value.startswith("\\\\"):
        return None
    computer, sep, rest = value[2:].partition("\\")
    if not sep or not computer:
        raise ValueError("a remote prefix must have the form \\\\Computer\\")
    _check_no_control(computer, "computer name")
    return computer, rest


def check_dependency_path(value: str) -> str:
    """A dependency target's logical path: a logical path, optionally behind ``\\\\Computer\\``
    (a component of a writer on another machine, reference 8.5).
    """
    remote = _split_remote(value)
    check_logical_path(value if remote is None else remote[1])
    return value


def check_dependency_name(value: str) -> str:
    """A dependency target's component name.  The docs also tell requesters to look for the
    remote ``\\\\Computer\\`` prefix on the *name* (reference section 12), so accept it there.
    """
    remote = _split_remote(value)
    check_component_name(value if remote is None else remote[1])
    return value


def is_remote(value: str) -> bool:
    """True if ``value`` starts with the remote ``\\\\`` prefix."""
    return value.startswith("\\\\")


def normalise_file_path(value: str) -> str:
    """A file-set path: non-empty, no wildcards, no control characters.

    The trailing backslash is optional in the SDK; the canonical form has none (``C:\\data\\``
    and ``C:\\data`` are the same file set, and ``C:\\`` becomes ``C:``), so a file is always
    ``path + "\\\\" + name``.
    """
    _check_no_control(value, "path")
    # The Win32 namespace prefix of volume GUID paths (\\?\Volume{...}) is not a wildcard.
    if _WILDCARD.search(value.removeprefix("\\\\?\\")):
        raise ValueError("a path must not contain wildcards (* or ?); put them in the file spec")
    stripped = value.rstrip("\\")
    if not stripped:
        raise ValueError("a path must not be empty")
    return stripped


def normalise_optional_file_path(value: str) -> str:
    """Like :func:`normalise_file_path`, but ``""`` (no alternate location) is allowed."""
    return value if value == "" else normalise_file_path(value)


def check_filespec(value: str) -> str:
    """A file specification: non-empty, no backslash, no control characters; ``*``/``?`` allowed."""
    if value == "":
        raise ValueError("a file spec must not be empty")
    _check_no_control(value, "file spec")
    if "\\" in value:
        raise ValueError("a file spec must not contain a backslash (put directories in the path)")
    return value


def check_file_name(value: str) -> str:
    """One file name (partial and directed files): non-empty, no backslash, no wildcards."""
    check_filespec(value)
    if _WILDCARD.search(value):
        raise ValueError("a file name must not contain wildcards (* or ?)")
    return value


# ------------------------------------------------------------------------------ enumerations

E = TypeVar("E", bound=IntEnum)
F = TypeVar("F", bound=IntFlag)

_SDK_TYPE_BY_CLASS: Final[dict[type, str]] = {cls: name for name, (cls, _) in SDK_TYPES.items()}


def sdk_type_name(cls: type) -> str:
    """``"VSS_COMPONENT_TYPE"`` for :class:`~vsssim.constants.ComponentType`."""
    return _SDK_TYPE_BY_CLASS.get(cls, cls.__name__)


def coerce_enum(cls: type[E], value: object) -> E:
    """``value`` as a member of ``cls``; an ``int`` that is not a member, or any other type,
    raises ``ValueError`` saying which SDK enumeration was expected.
    """
    if isinstance(value, cls):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return cls(value)
        except ValueError:
            pass
    raise ValueError(f"{value!r} is not a {sdk_type_name(cls)} value")


def enum_argument(name: str, cls: type[E], value: object) -> E:
    """:func:`coerce_enum` for a call's argument ``name``: the ``ValueError`` names the argument,
    the SDK enumeration and what to pass (``"backup_type='full' is not a VSS_BACKUP_TYPE value:
    pass a BackupType, e.g. BackupType.FULL"``).  Callers that model a COM call raise it as
    ``VssInvalidArgumentError`` (``E_INVALIDARG``)."""
    try:
        return coerce_enum(cls, value)
    except ValueError as exc:
        raise ValueError(f"{name}={exc}: pass a {cls.__name__}, e.g. "
                         f"{cls.__name__}.{_example_member(cls, value).name}") from None


def _example_member(cls: type[E], value: object) -> E:
    """The member ``value`` probably means (``'full'``: ``FULL``), else the first defined one."""
    members = list(cls)
    if isinstance(value, str):
        wanted = value.strip().upper().replace(" ", "_").replace("-", "_")
        for member in members:
            if member.name == wanted:
                return member
    return next((m for m in members if m.name not in ("UNDEFINED", "UNKNOWN")), members[0])


@functools.cache
def _all_bits(cls: type[IntFlag]) -> int:
    bits = 0
    for member in cls.__members__.values():
        bits |= int(member)
    return bits


def coerce_flags(cls: type[F], value: object) -> F:
    """``value`` as a mask of ``cls``; undefined bits, negatives and other types are refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        undefined = int(value) & ~_all_bits(cls)
        if value < 0 or undefined:
            raise ValueError(
                f"{value!r} is not a valid {sdk_type_name(cls)} mask "
                f"(undefined bits 0x{undefined & 0xFFFFFFFF:X})"
            )
        # (A mask already of the class is its own result: cls(value) would return it too.)
        return value if type(value) is cls else cls(value)
    raise ValueError(f"{value!r} is not a {sdk_type_name(cls)} mask")


def _enum_validator(cls: type[E]) -> Callable[[object], E]:
    def validate(value: object) -> E:
        # (A member, as a value usually comes: what coerce_enum returns, without the call.)
        return value if type(value) is cls else coerce_enum(cls, value)

    return validate


def _flag_validator(cls: type[F]) -> Callable[[object], F]:
    def validate(value: object) -> F:
        return coerce_flags(cls, value)

    return validate


def _hresult(value: object) -> object:
    # COM hands HRESULTs to Python signed; store the unsigned form so equal codes compare equal.
    if isinstance(value, int) and not isinstance(value, bool):
        return hr.to_unsigned(value) if -(1 << 31) <= value < 0 else int(value)
    return value


# pydantic needs one concrete alias per enumeration (annotations cannot be computed generically).
UsageTypeField = Annotated[UsageType, BeforeValidator(_enum_validator(UsageType))]
SourceTypeField = Annotated[SourceType, BeforeValidator(_enum_validator(SourceType))]
ComponentTypeField = Annotated[ComponentType, BeforeValidator(_enum_validator(ComponentType))]
RestoreMethodField = Annotated[RestoreMethod, BeforeValidator(_enum_validator(RestoreMethod))]
WriterRestoreField = Annotated[WriterRestore, BeforeValidator(_enum_validator(WriterRestore))]
BackupTypeField = Annotated[BackupType, BeforeValidator(_enum_validator(BackupType))]
RestoreTypeField = Annotated[RestoreType, BeforeValidator(_enum_validator(RestoreType))]
RestoreTargetField = Annotated[RestoreTarget, BeforeValidator(_enum_validator(RestoreTarget))]
FileRestoreStatusField = Annotated[
    FileRestoreStatus, BeforeValidator(_enum_validator(FileRestoreStatus))
]
RollforwardTypeField = Annotated[RollforwardType, BeforeValidator(_enum_validator(RollforwardType))]
WriterStateField = Annotated[WriterState, BeforeValidator(_enum_validator(WriterState))]
SnapshotStateField = Annotated[SnapshotState, BeforeValidator(_enum_validator(SnapshotState))]
ProviderTypeField = Annotated[ProviderType, BeforeValidator(_enum_validator(ProviderType))]
BackupSchemaField = Annotated[BackupSchema, BeforeValidator(_flag_validator(BackupSchema))]
FileSpecBackupTypeField = Annotated[
    FileSpecBackupType, BeforeValidator(_flag_validator(FileSpecBackupType))
]
ComponentFlagsField = Annotated[ComponentFlags, BeforeValidator(_flag_validator(ComponentFlags))]

# ------------------------------------------------------------------------------ scalar aliases

XmlText = Annotated[str, AfterValidator(check_xml_text)]
LogicalPath = Annotated[str, AfterValidator(check_logical_path)]
ComponentName = Annotated[str, AfterValidator(check_component_name)]
DependencyPath = Annotated[str, AfterValidator(check_dependency_path)]
DependencyName = Annotated[str, AfterValidator(check_dependency_name)]
FilePath = Annotated[str, AfterValidator(normalise_file_path)]
OptionalFilePath = Annotated[str, AfterValidator(normalise_optional_file_path)]
FileSpec = Annotated[str, AfterValidator(check_filespec)]
FileName = Annotated[str, AfterValidator(check_file_name)]

#: ``DWORD`` / ``ULONG``.
UInt32 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
#: ``LONGLONG`` (FILETIME, VSS_TIMESTAMP).
Int64 = Annotated[int, Field(ge=-(1 << 63), le=(1 << 63) - 1)]
#: A non-negative ``LONGLONG`` (disk offsets and lengths).
UInt63 = Annotated[int, Field(ge=0, le=(1 << 63) - 1)]
#: An HRESULT, stored unsigned (a negative, signed one is converted).  (The bounds come
#: before the conversion so that pydantic checks them inside its int schema, after it: the
#: same errors, without a Python validator per bound.)
HResultValue = Annotated[int, Field(ge=0, le=0xFFFF_FFFF), BeforeValidator(_hresult)]


def model_error_text(exc: Any) -> str:
    """A one-line summary of a pydantic ``ValidationError`` (field path: message; ...)."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"])
        parts.append(f"{loc}: {err['msg']}" if loc else str(err["msg"]))
    return "; ".join(parts)
