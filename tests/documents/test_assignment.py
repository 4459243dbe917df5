"""Assignments to document fields: the quick path for text and bool fields does what pydantic's
``validate_assignment`` does (same value, same set fields, same error, nothing changed on an
error), also on a document whose rules an unchecked list edit broke.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import vsssim.strategies as vst
from vsssim.constants import ComponentType
from vsssim.documents import BackupComponentsDocument, WriterMetadata
from vsssim.documents._fields import DocumentModel, check_xml_text


def _reference_setattr(model: DocumentModel, name: str, value: Any) -> None:
    """DocumentModel.__setattr__ without its quick path: pydantic, the old value put back."""
    if name not in model.__dict__:
        BaseModel.__setattr__(model, name, value)
        return
    old = model.__dict__[name]
    was_set = name in model.__pydantic_fields_set__
    try:
        BaseModel.__setattr__(model, name, value)
    except ValidationError:
        model.__dict__[name] = old
        if not was_set:
            model.__pydantic_fields_set__.discard(name)
        raise


def _targets(doc: DocumentModel) -> list[DocumentModel]:
    """The document and every document model in it."""
    out = [doc]
    for value in doc.__dict__.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, DocumentModel):
                out += _targets(item)
    return out


def _outcome(call: Any) -> object:
    try:
        call()
    except Exception as exc:
        return (type(exc), str(exc))
    return None


_VALUES = st.one_of(st.text(max_size=4), st.sampled_from(["", "ok", "bad\x01", "tab\t"]),
                    st.booleans(), st.integers(-1, 2), st.none())


@given(doc=st.one_of(vst.backup_components_documents(), vst.writer_metadata()),
       data=st.data(), value=_VALUES, known=st.booleans(), broken=st.booleans())
def test_assignments_do_what_pydantic_does(doc: DocumentModel, data: st.DataObject,
                                          value: Any, known: bool, broken: bool) -> None:
    if broken:  # an unchecked list edit that breaks a document rule
        if isinstance(doc, BackupComponentsDocument) and doc.writers:
            doc.writers.append(doc.writers[0])
        elif isinstance(doc, WriterMetadata) and doc.components:
            doc.components.append(doc.components[0].clone())
    if known and isinstance(value, str):
        _outcome(lambda: check_xml_text(value))  # (a text accepted before takes the quick path)
    fast, slow = doc.clone(), doc.clone()
    index = data.draw(st.one_of(st.just(0), st.integers(0, len(_targets(fast)) - 1)))
    fast_target, slow_target = _targets(fast)[index], _targets(slow)[index]
    cls = type(fast_target)
    names = st.sampled_from(sorted(cls.model_fields))
    quick = sorted(cls._quick_text | cls._quick_bool)
    name = data.draw(st.one_of(st.sampled_from(quick), names) if quick else names)
    if data.draw(st.booleans()):  # a field not set yet
        fast_target.__pydantic_fields_set__.discard(name)
        slow_target.__pydantic_fields_set__.discard(name)
    got = _outcome(lambda: setattr(fast_target, name, value))
    expected = _outcome(lambda: _reference_setattr(slow_target, name, value))
    assert got == expected
    assert fast_target.__dict__ == slow_target.__dict__
    assert fast_target.model_fields_set == slow_target.model_fields_set
    assert fast == slow


def test_a_quick_assignment_still_runs_the_document_rules() -> None:
    doc = BackupComponentsDocument()
    doc.add_component(uuid.UUID(int=1), uuid.UUID(int=2), ComponentType.DATABASE, "", "db")
    doc.writers.append(doc.writers[0])  # the same instance listed twice: a broken rule
    check_xml_text("machine")
    with pytest.raises(ValidationError, match="is listed twice"):
        doc.originating_machine = "machine"
    assert doc.originating_machine == ""
    assert "originating_machine" not in doc.model_fields_set
    doc.writers.pop()
    doc.originating_machine = "machine"
    assert doc.originating_machine == "machine" and "originating_machine" in doc.model_fields_set


def test_the_quick_fields_are_text_and_bool_fields() -> None:
    from vsssim.documents.bcd import BcdComponent, WriterComponents

    assert BackupComponentsDocument._quick_text == {"originating_machine", "os_version"}
    assert "select_components" in BackupComponentsDocument._quick_bool
    assert "backup_stamp" in BcdComponent._quick_text
    assert "backup_succeeded" in BcdComponent._quick_bool
    assert "component_name" not in BcdComponent._quick_text  # (a name has more rules)
    assert WriterComponents._quick_text == {"instance_name"}
    assert WriterComponents._after_checks == ()
