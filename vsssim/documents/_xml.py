"""Safe XML parsing and the declarative mapping between document models and XML.

**Parsing untrusted XML.**  Saved documents come back from disk, from other machines, from users:
:func:`parse_xml` treats them as hostile.  It refuses, with ``VSS_E_INVALID_XML_DOCUMENT``
(:class:`~vsssim.errors.VssInvalidXmlDocumentError`):

* input over ``max_bytes``, checked *before* any parsing;
* any document type declaration.  A DTD is the only way to declare entities, so refusing it at
  its first token stops entity expansion attacks (billion laughs, quadratic blowup) and external
  entities (``file:///etc/passwd``) before a single entity is read: the cost is bounded by the
  size of the prologue, not by what the entities would expand to.  The entity, notation and
  external-entity handlers refuse as well, as a second line (this is defusedxml's approach,
  without the dependency);
* processing instructions (the XML declaration is not one and is allowed);
* malformed XML, nesting deeper than ``max_depth`` and more than ``max_elements`` elements.

The tree is built directly from expat's callbacks, so the parser never sees ElementTree's
defaults and every limit is checked as the events arrive.

**Mapping.**  A :class:`Spec` says how one model class maps to one element: scalar fields to
attributes (:class:`Attr` with a :class:`Codec`), single sub-models to child elements
(:class:`One`), lists of sub-models to repeated child elements (:class:`Many`), optionally inside
a wrapper element, told apart by an attribute (``role``) or named after a field's value (a WMD
component's element is ``DATABASE`` or ``FILE_GROUP``).  :func:`dump_document` and
:func:`load_document` walk the specs; nothing is written per model by hand.  Loading is strict:
an unknown attribute or element, a missing required one, a badly typed value or a model rule
violation refuses the whole document.  Opaque strings are written as attribute values with
newlines, tabs and carriage returns escaped as character references, which survive the
whitespace normalisation that XML parsers apply to attributes, so they round-trip exactly.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
import xml.etree.ElementTree as ET
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from enum import IntEnum, IntFlag
from typing import Any, Final, Generic, NoReturn, TypeVar
from xml.parsers import expat

from pydantic import BaseModel, ValidationError

from vsssim.documents._fields import DocumentModel, model_error_text
from vsssim.errors import VssInvalidXmlDocumentError

__all__ = [
    "BASE64",
    "BOOL",
    "GUID",
    "HEX32",
    "INT",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_ELEMENTS",
    "TEXT",
    "Attr",
    "Codec",
    "Many",
    "One",
    "Spec",
    "dump_document",
    "enum_codec",
    "flags_codec",
    "load_document",
    "parse_xml",
]

#: Default limits of :func:`parse_xml`.
MAX_BYTES: Final = 8 * 2**20
MAX_DEPTH: Final = 64
MAX_ELEMENTS: Final = 200_000


# =============================================================================== safe parsing


class _Refused(Exception):
    """Raised inside an expat callback to stop the parse at once."""


def _refuse(what: str) -> Any:
    def handler(*_args: object) -> NoReturn:
        raise _Refused(f"{what} are not allowed in VSS documents")

    return handler


class _TreeBuilder:
    """Builds the element tree from expat events, enforcing the depth and element limits."""

    def __init__(self, max_depth: int, max_elements: int) -> None:
        self._builder = ET.TreeBuilder()
        self._depth = 0
        self._elements = 0
        self._max_depth = max_depth
        self._max_elements = max_elements

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self._depth += 1
        self._elements += 1
        if self._depth > self._max_depth:
            raise _Refused(f"elements are nested deeper than {self._max_depth} levels")
        if self._elements > self._max_elements:
            raise _Refused(f"the document has more than {self._max_elements} elements")
        self._builder.start(tag, attrs)

    def end(self, tag: str) -> None:
        self._depth -= 1
        self._builder.end(tag)

    def data(self, text: str) -> None:
        self._builder.data(text)

    def close(self) -> ET.Element:
        return self._builder.close()


def parse_xml(
    text: str | bytes,
    *,
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_elements: int = MAX_ELEMENTS,
) -> ET.Element:
    """Parse untrusted XML into an element tree, refusing anything hostile (see module doc).

    ``str`` input is parsed as the text it is (an ``encoding`` in its XML declaration is
    ignored); ``bytes`` follow the declaration or byte-order mark, UTF-8 by default.
    Raises :class:`~vsssim.errors.VssInvalidXmlDocumentError`; ``TypeError`` for other types.
    """
    if isinstance(text, str):
        # Every character is at least one byte: refuse oversize text before encoding it.
        if len(text) > max_bytes:
            raise VssInvalidXmlDocumentError(f"the document is larger than {max_bytes} bytes")
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise VssInvalidXmlDocumentError(
                f"the document text is not valid Unicode ({exc.reason} at {exc.start})"
            ) from None
        encoding: str | None = "utf-8"
    elif isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        encoding = None
    else:
        raise TypeError(f"XML must be str or bytes, not {type(text).__name__}")
    if len(data) > max_bytes:
        raise VssInvalidXmlDocumentError(f"the document is larger than {max_bytes} bytes")

    parser = expat.ParserCreate(encoding)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("document type declarations (DTDs)")
    parser.EntityDeclHandler = _refuse("entity declarations")
    parser.UnparsedEntityDeclHandler = _refuse("unparsed entity declarations")
    parser.ExternalEntityRefHandler = _refuse("external entity references")
    parser.NotationDeclHandler = _refuse("notation declarations")
    parser.SkippedEntityHandler = _refuse("entity references")
    parser.ProcessingInstructionHandler = _refuse("processing instructions")
    builder = _TreeBuilder(max_depth, max_elements)
    parser.buffer_text = True
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise VssInvalidXmlDocumentError(str(exc)) from None
    except expat.ExpatError as exc:
        raise VssInvalidXmlDocumentError(f"malformed XML: {exc}") from None
    except (UnicodeError, LookupError) as exc:  # an encoding Python cannot decode
        raise VssInvalidXmlDocumentError(f"undecodable XML: {exc}") from None
    return builder.close()


# =============================================================================== codecs

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Codec(ABC, Generic[T]):
    """Turns one field value into attribute text and back.  ``decode`` raises ``ValueError``."""

    @abstractmethod
    def encode(self, value: T) -> str:
        """The attribute text of ``value``."""

    @abstractmethod
    def decode(self, text: str) -> T:
        """The value of attribute text; ``ValueError`` if it is not well-formed."""


class _TextCodec(Codec[str]):
    def encode(self, value: str) -> str:
        return value

    def decode(self, text: str) -> str:
        return text


class _BoolCodec(Codec[bool]):
    # The public WMD fragments spell booleans yes/no.
    def encode(self, value: bool) -> str:
        return "yes" if value else "no"

    def decode(self, text: str) -> bool:
        if text == "yes":
            return True
        if text == "no":
            return False
        raise ValueError(f"{text!r} is not yes or no")


# Bounded digit count: Python refuses int() of >4300 digits anyway, but say it clearly.
_INT_RE: Final = re.compile(r"-?[0-9]{1,20}")
_HEX32_RE: Final = re.compile(r"0x[0-9A-Fa-f]{1,8}")
_GUID_RE: Final = re.compile(
    r"\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}"
)
_BASE64_RE: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}")


class _IntCodec(Codec[int]):
    def encode(self, value: int) -> str:
        return f"{value:d}"  # (an int subclass too: its number, as str(int(value)))

    def decode(self, text: str) -> int:
        if not _INT_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a decimal integer")
        return int(text)


class _Hex32Codec(Codec[int]):
    # HRESULTs read best in hex (0x80042301).
    def encode(self, value: int) -> str:
        return f"0x{int(value):08X}"

    def decode(self, text: str) -> int:
        if not _HEX32_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a 32-bit hexadecimal value (0x...)")
        return int(text, 16)


class _GuidCodec(Codec[uuid.UUID]):
    # VSS writes GUIDs in braces, lower case (as vssadmin prints them).
    def encode(self, value: uuid.UUID) -> str:
        return "{" + str(value) + "}"

    def decode(self, text: str) -> uuid.UUID:
        if not _GUID_RE.fullmatch(text):
            raise ValueError(f"{text!r} is not a GUID in braces")
        return uuid.UUID(text)


class _Base64Codec(Codec[bytes]):
    def encode(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    def decode(self, text: str) -> bytes:
        if not _BASE64_RE.fullmatch(text):
            raise ValueError("not base64")
        try:
            return base64.b64decode(text, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64 ({exc})") from None


EnumT = TypeVar("EnumT", bound=IntEnum)
FlagT = TypeVar("FlagT", bound=IntFlag)


class _EnumCodec(Codec[EnumT]):
    """An enumeration as its member name (``USERDATA``); aliases are accepted on input."""

    def __init__(self, cls: type[EnumT]) -> None:
        self._cls = cls

    def encode(self, value: EnumT) -> str:
        return self._cls(value).name or str(int(value))

    def decode(self, text: str) -> EnumT:
        member = self._cls.__members__.get(text)
        if member is None:
            raise ValueError(f"{text!r} is not a member of {self._cls.__name__}")
        return member


class _FlagsCodec(Codec[FlagT]):
    """A mask as a decimal number (``filespecBackupType="3855"``), as in the public fragments.

    Undefined bits are kept here and refused by the model's validator, with the field's name.
    """

    def __init__(self, cls: type[FlagT]) -> None:
        self._cls = cls

    def encode(self, value: FlagT) -> str:
        return f"{value:d}"

    def decode(self, text: str) -> FlagT:
        if not _INT_RE.fullmatch(text) or text.startswith("-"):
            raise ValueError(f"{text!r} is not a decimal mask")
        return self._cls(int(text))


TEXT: Final[Codec[str]] = _TextCodec()
BOOL: Final[Codec[bool]] = _BoolCodec()
INT: Final[Codec[int]] = _IntCodec()
HEX32: Final[Codec[int]] = _Hex32Codec()
GUID: Final[Codec[uuid.UUID]] = _GuidCodec()
BASE64: Final[Codec[bytes]] = _Base64Codec()


def enum_codec(cls: type[EnumT]) -> Codec[EnumT]:
    """Codec writing members of ``cls`` by name."""
    return _EnumCodec(cls)


def flags_codec(cls: type[FlagT]) -> Codec[FlagT]:
    """Codec writing masks of ``cls`` in decimal."""
    return _FlagsCodec(cls)


# =============================================================================== specs


@dataclass(frozen=True, slots=True)
class Attr:
    """Scalar field ``field`` <-> attribute ``name``.  A ``None`` value is left out, and a
    missing attribute leaves the field at its default (or fails if the field is required).
    """

    field: str
    name: str
    codec: Codec[Any] = TEXT


@dataclass(frozen=True, slots=True)
class One:
    """Optional or required sub-model ``field`` <-> one child element ``tag``."""

    field: str
    tag: str
    spec: Spec


@dataclass(frozen=True, slots=True)
class Many:
    """List field ``field`` <-> repeated child elements.

    ``tag``: the element name; or, with ``variant_field``, ``variants`` maps element names to
    the value of that field (the field is then carried by the name, not by an attribute).
    ``within``: the items sit in that wrapper element (created as needed; it may also be the
    element of a :class:`One` of the same parent).  ``role``: an ``(attribute, value)`` pair
    that tells apart two lists sharing one element name.
    """

    field: str
    spec: Spec
    tag: str = ""
    variant_field: str = ""
    variants: Mapping[str, Any] = dc_field(default_factory=dict)
    within: str = ""
    role: tuple[str, str] | None = None

    def tags(self) -> frozenset[str]:
        """Every element name this list may use."""
        return frozenset(self.variants) if self.variant_field else frozenset({self.tag})

    def tag_for(self, item: BaseModel) -> str:
        """The element name of ``item``."""
        if not self.variant_field:
            return self.tag
        value = getattr(item, self.variant_field)
        for tag, variant in self.variants.items():
            if variant == value:
                return tag
        raise ValueError(f"{self.variant_field}={value!r} has no XML element name")


@dataclass(frozen=True, slots=True)
class Spec:
    """How one model class maps to an element (see the module doc)."""

    model: type[BaseModel]
    attrs: tuple[Attr, ...] = ()
    ones: tuple[One, ...] = ()
    manys: tuple[Many, ...] = ()
    #: Attributes with a fixed value (the format version on a root element).
    fixed: tuple[tuple[str, str], ...] = ()


# =============================================================================== encoding

# The writer walks the specs once per document and builds (tag, attribute text, children)
# tuples, then writes them out: no element tree.  What does not depend on the document is
# computed once per spec (a _Plan): each attribute's ' name="' prefix and codec, the fixed
# attributes and each list's role attribute as escaped text, each list's element names by
# variant value, the plans of the sub-elements.  (``list += tuple`` appends without a method
# call: these loops run for every element of every document a backup saves.)

#: An element being written: tag, attribute text, children (a wrapper is found by its tag).
_Node = tuple[str, str, list[Any]]


@dataclass(frozen=True, slots=True)
class _Plan:
    fixed: str
    #: Per attribute: field, ' name="' prefix, the codec's encode (None for text, as it is),
    #: the texts it gave (None for text and base64).
    attrs: tuple[tuple[str, str, Any, _Texts | None], ...]
    #: Per sub-element: field, tag, plan.
    ones: tuple[tuple[str, str, _Plan], ...]
    #: Per list: field, plan, tag ("" when named by variant), variant field, variant value ->
    #: tag, wrapper tag, role attribute text.
    manys: tuple[tuple[str, _Plan, str, str, dict[Any, str], str, str], ...]


class _Texts(dict[tuple[type, Any], str]):
    """The texts a codec gave, escaped, by (exact type, value) of the value: the same few
    flags, enum members and ids are written again and again, and a codec's text is a function
    of them (a hit is a subscript, not a call).  Bounded: cleared when full."""

    __slots__ = ("_encode",)

    def __init__(self, encode: Callable[[Any], str]) -> None:
        super().__init__()
        self._encode = encode

    def __missing__(self, key: tuple[type, Any]) -> str:
        text = _escape_attribute(self._encode(key[1]))
        if len(self) >= 1024:
            self.clear()
        self[key] = text
        return text


class _Escaped(dict[str, str]):
    """Text values as attribute text (escaped), by value: every document written carries the
    same names and paths again (a hit is a subscript, not a search).  Bounded: cleared when
    full."""

    def __missing__(self, text: str) -> str:
        escaped = _escape_attribute(text)
        if len(self) >= 4096:
            self.clear()
        self[text] = escaped
        return escaped


_ESCAPED: Final = _Escaped()


# The codecs whose text depends only on the value and its type (not base64: large values).
_MEMO_CODECS: Final = (_BoolCodec, _IntCodec, _Hex32Codec, _GuidCodec, _EnumCodec, _FlagsCodec)

# id(spec) -> (spec, its plan): the specs are module constants, kept alive here as well.
_PLANS: dict[int, tuple[Spec, _Plan]] = {}


def _attribute_text(pairs: tuple[tuple[str, str], ...]) -> str:
    return "".join(f' {name}="{_escape_attribute(value)}"' for name, value in pairs)


def _plan(spec: Spec) -> _Plan:
    found = _PLANS.get(id(spec))
    if found is not None and found[0] is spec:
        return found[1]
    manys = []
    for many in spec.manys:
        by_value: dict[Any, str] = {}
        for tag, variant in many.variants.items():
            by_value.setdefault(variant, tag)  # tag_for takes the first name of a value
        manys.append((many.field, _plan(many.spec), "" if many.variant_field else many.tag,
                      many.variant_field, by_value, many.within,
                      _attribute_text((many.role,)) if many.role else ""))
    plan = _Plan(
        _attribute_text(spec.fixed),
        tuple((a.field, f' {a.name}="', None if a.codec is TEXT else a.codec.encode,
               _Texts(a.codec.encode) if type(a.codec) in _MEMO_CODECS else None)
              for a in spec.attrs),
        tuple((one.field, one.tag, _plan(one.spec)) for one in spec.ones),
        tuple(manys))
    _PLANS[id(spec)] = (spec, plan)
    return plan


def _encode(model: BaseModel, tag: str, plan: _Plan, role: str = "") -> _Node:
    values = model.__dict__
    # Each text is escaped when it is first met (kept in _ESCAPED or the codec's _Texts), so
    # the element's text needs no search of its own.
    parts: list[str] = []
    for field, prefix, encode, texts in plan.attrs:
        value = values[field]
        if value is None:
            continue
        if texts is not None:
            try:
                text = texts[type(value), value]
            except TypeError:  # unhashable: only in a model built without validation
                text = _escape_attribute(encode(value))
        elif encode is not None:
            text = _escape_attribute(encode(value))
        elif type(value) is str:
            text = _ESCAPED[value]
        else:  # (not a str, only in a model built without validation: join refuses it)
            text = _escape_attribute(value) if isinstance(value, str) else value
        parts += (prefix, text, '"')
    head = "".join(parts)
    children: list[_Node] = []
    for field, tag_, sub_plan in plan.ones:
        sub = values[field]
        if sub is not None:
            children += (_encode(sub, tag_, sub_plan),)
    for field, sub_plan, item_tag, variant_field, by_value, within, role_ in plan.manys:
        items = values[field]
        parent = children
        if within:
            found = None
            for child in children:  # (a loop, not next() of a generator: no calls)
                if child[0] == within:
                    found = child
                    break
            if found is None:
                if not items:
                    continue
                found = (within, "", [])
                children += (found,)
            parent = found[2]
        for item in items:
            if variant_field:
                variant = item.__dict__[variant_field]
                item_tag = by_value.get(variant, "")
                if not item_tag:
                    raise ValueError(f"{variant_field}={variant!r} has no XML element name")
            parent += (_encode(item, item_tag, sub_plan, role_),)
    return (tag, plan.fixed + role + head, children)


def dump_document(model: BaseModel, root_tag: str, spec: Spec) -> str:
    """Serialise ``model`` as an indented XML document with an XML declaration.

    The same text as building the element tree, ``ET.indent(root, space="  ")`` then
    ``ET.tostring(root, encoding="unicode")`` (the tests compare the two): the documents have
    attributes and child elements only, so a direct writer does it in a fraction of the time
    of the standard library's pure-Python serialiser."""
    out = ['<?xml version="1.0"?>\n']
    _serialize(_encode(model, root_tag, _plan(spec)), "\n", out)
    out += ("\n",)
    return "".join(out)


def _serialize(node: _Node, newline: str, out: list[str]) -> None:
    """``node`` and its children, each child on its own line indented two more spaces."""
    tag, head, children = node
    if children:
        out += ("<", tag, head, ">")
        inner = newline + "  "
        for child in children:
            if child[2]:
                out += (inner,)
                _serialize(child, inner, out)
            else:  # an element without children, as most are: written here, without a call
                out += (inner, "<", child[0], child[1], " />")
        out += (newline, "</", tag, ">")
    else:
        out += ("<", tag, head, " />")


def _escape_attribute(text: str) -> str:
    """An attribute value as ElementTree writes it (markup, quotes and line breaks escaped)."""
    if not _NEEDS_ESCAPE.search(text):
        return text
    return text.translate(_ATTRIBUTE_ESCAPES)


_ATTRIBUTE_ESCAPES: Final = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
    "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"})
_NEEDS_ESCAPE: Final = re.compile('[&<>"\r\n\t]')


# =============================================================================== decoding


class _ShapeError(ValueError):
    """The XML is well-formed but is not shaped like the expected document."""


def _is_blank(text: str | None) -> bool:
    # XML white space only (str.strip() would also strip other Unicode spaces).
    return text is None or not text.strip(" \t\r\n")


def _check_no_text(elem: ET.Element, where: str) -> None:
    if not _is_blank(elem.text) or any(not _is_blank(child.tail) for child in elem):
        raise _ShapeError(f"{where}: unexpected text content")


def _decode(
    elem: ET.Element,
    spec: Spec,
    where: str,
    *,
    skip_attrs: frozenset[str] = frozenset(),
    skip_tags: frozenset[str] = frozenset(),
    preset: Mapping[str, Any] | None = None,
) -> BaseModel:
    """Build ``spec.model`` from ``elem``; ``skip_*`` are claimed by the caller's rules."""
    _check_no_text(elem, where)
    values: dict[str, Any] = dict(preset or {})
    attrib = {k: v for k, v in elem.attrib.items() if k not in skip_attrs}
    for name, expected in spec.fixed:
        found = attrib.pop(name, None)
        if found != expected:
            raise _ShapeError(f"{where}: attribute {name}={found!r}, expected {expected!r}")
    for attr in spec.attrs:
        if attr.name in attrib:
            text = attrib.pop(attr.name)
            try:
                values[attr.field] = attr.codec.decode(text)
            except ValueError as exc:
                raise _ShapeError(f"{where}: attribute {attr.name}: {exc}") from None
    if attrib:
        raise _ShapeError(f"{where}: unknown attribute(s) {', '.join(sorted(attrib))}")

    children = list(elem)
    claimed: set[int] = set()
    for one in spec.ones:
        matches = [c for c in children if c.tag == one.tag]
        if len(matches) > 1:
            raise _ShapeError(f"{where}: more than one <{one.tag}> element")
        if matches:
            claimed.add(id(matches[0]))
            inner = frozenset(t for m in spec.manys if m.within == one.tag for t in m.tags())
            values[one.field] = _decode(matches[0], one.spec, f"{where}/{one.tag}", skip_tags=inner)
    wrappers: dict[str, ET.Element] = {}
    for many in spec.manys:
        pool = children
        if many.within:
            containers = [c for c in children if c.tag == many.within]
            if len(containers) > 1:
                raise _ShapeError(f"{where}: more than one <{many.within}> element")
            if not containers:
                values[many.field] = []
                continue
            wrappers[many.within] = containers[0]
            claimed.add(id(containers[0]))
            pool = list(containers[0])
        items = []
        tags = many.tags()
        for index, child in enumerate(pool):
            if child.tag not in tags:
                continue
            skip: frozenset[str] = frozenset()
            if many.role is not None:
                role_attr, role_value = many.role
                if child.get(role_attr) != role_value:
                    continue
                skip = frozenset({role_attr})
            claimed.add(id(child))
            preset_values = (
                {many.variant_field: many.variants[child.tag]} if many.variant_field else None
            )
            items.append(
                _decode(
                    child,
                    many.spec,
                    f"{where}/{child.tag}[{index}]",
                    skip_attrs=skip,
                    preset=preset_values,
                )
            )
        values[many.field] = items

    one_tags = {one.tag for one in spec.ones}
    for tag, wrapper in wrappers.items():
        if tag in one_tags:
            continue  # its attributes and remaining children were checked by the One
        if wrapper.attrib:
            raise _ShapeError(f"{where}/{tag}: unexpected attribute(s)")
        _check_no_text(wrapper, f"{where}/{tag}")
        for child in wrapper:
            if id(child) not in claimed:
                raise _ShapeError(f"{where}/{tag}: unexpected element <{child.tag}>")
    for child in children:
        if id(child) not in claimed and child.tag not in skip_tags:
            raise _ShapeError(f"{where}: unexpected element <{child.tag}>")

    try:
        return spec.model.model_validate(values)
    except ValidationError as exc:
        raise _ShapeError(f"{where}: {model_error_text(exc)}") from None


def load_document(xml: str | bytes, root_tag: str, spec: Spec, model: type[M]) -> M:
    """Parse untrusted ``xml`` and build ``model`` from it, or refuse the whole document.

    Raises :class:`~vsssim.errors.VssInvalidXmlDocumentError` for hostile or malformed XML, a
    wrong root element, unknown or badly typed attributes, and any model rule violation.
    """
    key = (id(spec), root_tag, xml) if type(xml) is str or type(xml) is bytes else None
    if key is not None:
        loaded = _LOADED.get(key)
        if loaded is not None and loaded[0] is spec and isinstance(loaded[1], model):
            return loaded[1].clone()
    root = parse_xml(xml)
    if root.tag != root_tag:
        raise VssInvalidXmlDocumentError(f"the root element is <{root.tag}>, expected <{root_tag}>")
    try:
        doc = _decode(root, spec, root_tag)
    except _ShapeError as exc:
        raise VssInvalidXmlDocumentError(f"not a valid {model.__name__} document: {exc}") from None
    if not isinstance(doc, model):
        raise TypeError(f"spec of <{root_tag}> builds {type(doc).__name__}, not {model.__name__}")
    if key is not None:
        _remember(key, spec, doc)
    return doc


def _remember(key: tuple[int, str, str | bytes], spec: Spec, doc: BaseModel) -> None:
    if isinstance(doc, DocumentModel):
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.clear()
        _LOADED[key] = (spec, doc.clone())


# Documents loaded lately, by their exact text: loading is a pure function of the text (the
# same text gives an equal document or the same error), and a restore loads a backup's
# documents more than once (the medium, then InitializeForRestore).  Only mutable documents
# are kept, and only copies are handed out.  Bounded: cleared when full.
_LOADED: Final[dict[tuple[int, str, str | bytes], tuple[Spec, DocumentModel]]] = {}
_LOADED_MAX: Final = 64
