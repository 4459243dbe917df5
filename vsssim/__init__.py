"""vsssim: a pure-Python simulator of the Windows Volume Shadow Copy Service (VSS).

The public facade.  The usual entry point is :class:`VssSystem`, a simulated machine::

    from vsssim import VssSystem
    with VssSystem(seed=0) as system:
        volume = system.add_volume("C:\\\\", size=64 * 2**20)
        ...

Public submodules with their own jobs: :mod:`vsssim.hresult` (every VSS HRESULT),
:mod:`vsssim.constants` (every SDK enumeration), :mod:`vsssim.errors`, :mod:`vsssim.documents`
(writer metadata and backup components documents), :mod:`vsssim.storage` (volumes, the
copy-on-write engine, simfs), :mod:`vsssim.apps` (sample applications and writers),
:mod:`vsssim.testing` and :mod:`vsssim.strategies` (for testing your own writers), and
:mod:`vsssim.cli` (the ``vsssim`` command).
"""

from vsssim import constants, errors, hresult
from vsssim.asyncop import Async
from vsssim.backup import BackedUpFile, BackupResult
from vsssim.clock import Clock, RealClock, VirtualClock
from vsssim.components import Component, WriterComponents
from vsssim.constants import *  # noqa: F403
from vsssim.documents import WriterMetadata, WriterMetadataBuilder, WriterStatus
from vsssim.errors import *  # noqa: F403
from vsssim.faults import (
    FaultPlan,
    IdentifyDuring,
    InjectedFault,
    ProviderFault,
    RequesterCrash,
    StorageFault,
    WriterFault,
)
from vsssim.options import Costs, VssOptions
from vsssim.providers import GUID_NULL, Provider, SnapshotProvider, SystemProvider, VolumeInfo
from vsssim.requester import BackupComponents
from vsssim.system import VssSystem
from vsssim.trace import EventKind, Trace, TraceEvent, Tracer
from vsssim.writer import Writer

__version__ = "0.1.0"

__all__ = [
    "GUID_NULL",
    "Async",
    "BackedUpFile",
    "BackupComponents",
    "BackupResult",
    "Clock",
    "Component",
    "Costs",
    "EventKind",
    "FaultPlan",
    "IdentifyDuring",
    "InjectedFault",
    "Provider",
    "ProviderFault",
    "RealClock",
    "RequesterCrash",
    "SnapshotProvider",
    "StorageFault",
    "SystemProvider",
    "Trace",
    "TraceEvent",
    "Tracer",
    "VirtualClock",
    "VolumeInfo",
    "VssOptions",
    "VssSystem",
    "Writer",
    "WriterComponents",
    "WriterFault",
    "WriterMetadata",
    "WriterMetadataBuilder",
    "WriterStatus",
    "__version__",
    "constants",
    "errors",
    "hresult",
    *constants.__all__,
    *errors.__all__,
]
