"""Testing toolkit: test your own VSS writers and requesters on any OS, by hand and by search.

* The pytest plugin (:mod:`vsssim.testing.plugin`, loaded automatically): the ``vss`` fixture (a
  fresh :class:`~vsssim.system.VssSystem` per test), ``vss_factory`` (for ``@given`` tests), the
  ``vss(seed=..., volumes=..., delivery=...)`` marker, ``--vss-seed`` and
  ``--vss-conformance-examples``.
* Assertions with readable diffs: :func:`assert_event_order`, :func:`assert_writer_states`,
  :func:`assert_no_live_reads`, :func:`assert_consistent_restore`.
* Writer conformance: :class:`WriterConformance` (subclass it) and :func:`check_writer`, with
  :class:`WriterMonitor` checking the reference's rules for writers (:data:`WRITER_RULES`).
* Requester conformance: :class:`RequesterConformance` and :func:`check_requester`, with
  :class:`RequesterMonitor` (:data:`REQUESTER_RULES`).
* A broken rule raises :class:`ConformanceError`: the rule, its reference, the trace tail and,
  from a conformance run, the minimal failing sequence as a ready-to-paste pytest test.

Strategies for ``@given`` tests are in :mod:`vsssim.strategies`.  Names are imported on first
use (PEP 562), so that importing the plugin stays cheap.
"""

from typing import TYPE_CHECKING

from vsssim._lazy import lazy_exports

_LAZY = {
    "assert_consistent_restore": "vsssim.testing.assertions",
    "assert_event_order": "vsssim.testing.assertions",
    "assert_no_live_reads": "vsssim.testing.assertions",
    "assert_writer_states": "vsssim.testing.assertions",
    "CallOutcome": "vsssim.testing.calls",
    "perform": "vsssim.testing.calls",
    "ConsistencyCheck": "vsssim.testing.monitor",
    "FreezeState": "vsssim.testing.monitor",
    "WriterMonitor": "vsssim.testing.monitor",
    "AbandonedBackup": "vsssim.testing.plans",
    "BackupPlan": "vsssim.testing.plans",
    "RestorePlan": "vsssim.testing.plans",
    "VolumeLayout": "vsssim.testing.plans",
    "RequesterConformance": "vsssim.testing.requester_conformance",
    "check_requester": "vsssim.testing.requester_conformance",
    "RequesterMonitor": "vsssim.testing.requester_monitor",
    "REQUESTER_RULES": "vsssim.testing.rules",
    "RULES": "vsssim.testing.rules",
    "WRITER_RULES": "vsssim.testing.rules",
    "ConformanceError": "vsssim.testing.rules",
    "Rule": "vsssim.testing.rules",
    "Violation": "vsssim.testing.rules",
    "WriterConformance": "vsssim.testing.writer_conformance",
    "check_writer": "vsssim.testing.writer_conformance",
    "conformance_settings": "vsssim.testing.writer_conformance",
}

if TYPE_CHECKING:
    from vsssim.testing.assertions import (
        assert_consistent_restore,
        assert_event_order,
        assert_no_live_reads,
        assert_writer_states,
    )
    from vsssim.testing.calls import CallOutcome, perform
    from vsssim.testing.monitor import ConsistencyCheck, FreezeState, WriterMonitor
    from vsssim.testing.plans import AbandonedBackup, BackupPlan, RestorePlan, VolumeLayout
    from vsssim.testing.requester_conformance import RequesterConformance, check_requester
    from vsssim.testing.requester_monitor import RequesterMonitor
    from vsssim.testing.rules import (
        REQUESTER_RULES,
        RULES,
        WRITER_RULES,
        ConformanceError,
        Rule,
        Violation,
    )
    from vsssim.testing.writer_conformance import (
        WriterConformance,
        check_writer,
        conformance_settings,
    )


__all__ = [
    "REQUESTER_RULES",
    "RULES",
    "WRITER_RULES",
    "AbandonedBackup",
    "BackupPlan",
    "CallOutcome",
    "ConformanceError",
    "ConsistencyCheck",
    "FreezeState",
    "RequesterConformance",
    "RequesterMonitor",
    "RestorePlan",
    "Rule",
    "Violation",
    "VolumeLayout",
    "WriterConformance",
    "WriterMonitor",
    "assert_consistent_restore",
    "assert_event_order",
    "assert_no_live_reads",
    "assert_writer_states",
    "check_requester",
    "check_writer",
    "conformance_settings",
    "perform",
]

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
