"""``DocumentModel.clone``: the deep copy the requester takes of every gathered document.

Differential against pydantic's own ``model_copy(deep=True)``: equal documents, equal XML, and
no mutable part shared with the original (only frozen parts may be shared).
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import vsssim.strategies as vst
from vsssim.constants import ComponentType, RestoreMethod
from vsssim.documents import BackupComponentsDocument, WriterMetadata, WriterMetadataBuilder
from vsssim.documents._fields import DocumentModel


def _mutable_parts(value: Any, out: list[object]) -> list[object]:
    """Every mutable object reachable from ``value`` (document models, lists, dicts)."""
    if isinstance(value, DocumentModel):
        out.append(value)
        for v in value.__dict__.values():
            _mutable_parts(v, out)
    elif isinstance(value, list | dict):
        out.append(value)
        for v in value.values() if isinstance(value, dict) else value:
            _mutable_parts(v, out)
    elif isinstance(value, tuple):
        for v in value:
            _mutable_parts(v, out)
    elif isinstance(value, BaseModel):
        assert value.model_config.get("frozen"), f"{type(value).__name__} is shared but mutable"
    return out


@given(st.one_of(vst.writer_metadata(), vst.backup_components_documents()))
def test_clone_equals_a_deep_copy_and_shares_nothing_mutable(
        doc: WriterMetadata | BackupComponentsDocument) -> None:
    copied = doc.clone()
    assert type(copied) is type(doc)
    assert copied == doc.model_copy(deep=True) == doc
    assert copied.save_as_xml() == doc.save_as_xml()
    assert copied.model_fields_set == doc.model_fields_set
    originals = {id(p) for p in _mutable_parts(doc, [])}
    assert not any(id(p) in originals for p in _mutable_parts(copied, []))


def test_a_change_to_the_clone_leaves_the_original_alone(
        builder: WriterMetadataBuilder) -> None:
    builder.add_component(ComponentType.DATABASE, "", "db", caption="the database")
    builder.add_database_files("", "db", "C:\\db", "data.mdf")
    builder.set_restore_method(RestoreMethod.RESTORE_IF_CAN_REPLACE)
    doc = builder.finish()
    copied = doc.clone()
    copied.components[0].caption = "changed"
    copied.components[0].database_files.clear()
    copied.components.clear()
    assert doc.components[0].caption == "the database"
    assert [f.filespec for f in doc.components[0].database_files] == ["data.mdf"]
