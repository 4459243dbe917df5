"""vsssim: a pure-Python simulator of the Windows Volume Shadow Copy Service (VSS).

The public facade.  The usual entry point is :class:`VssSystem`, a simulated machine::

    from vsssim import VssSystem
    with VssSystem(seed=0) as system:
        volume = system.add_volume("C:\\\\", size=64 * 2**20)
        ...

Public submodules with their own jobs: :mod:`vsssim.hresult` (every VSS HRESULT),
:mod:`vsssim.constants` (every SDK enumeration), :mod:`vsssim.errors` (the exceptions, all exported
here too, with ``MediumError``, a damaged backup directory, from :mod:`vsssim.medium`),
:mod:`vsssim.documents`
(writer metadata and backup components documents), :mod:`vsssim.storage` (volumes, the
copy-on-write engine, simfs), :mod:`vsssim.apps` (sample applications and writers),
:mod:`vsssim.testing` and :mod:`vsssim.strategies` (for testing your own writers), and
:mod:`vsssim.cli` (the ``vsssim`` command).
"""

from typing import TYPE_CHECKING

from vsssim import constants, errors, hresult
from vsssim._lazy import lazy_exports
from vsssim.constants import *  # noqa: F403
from vsssim.errors import *  # noqa: F403

__version__ = "0.1.0"

# The rest is imported on first use (PEP 562), so that ``import vsssim.testing.plugin`` (which
# pytest does in every session of every project that has vsssim installed) stays cheap.
_LAZY = {
    "Async": "vsssim.asyncop",
    "BackedUpFile": "vsssim.backup",
    "BackupResult": "vsssim.backup",
    "Clock": "vsssim.clock",
    "RealClock": "vsssim.clock",
    "VirtualClock": "vsssim.clock",
    "Component": "vsssim.components",
    "WriterComponents": "vsssim.components",
    "WriterMetadata": "vsssim.documents",
    "WriterMetadataBuilder": "vsssim.documents",
    "WriterStatus": "vsssim.documents",
    "FaultPlan": "vsssim.faults",
    "IdentifyDuring": "vsssim.faults",
    "InjectedFault": "vsssim.faults",
    "MediumError": "vsssim.medium",
    "ProviderFault": "vsssim.faults",
    "RequesterCrash": "vsssim.faults",
    "StorageFault": "vsssim.faults",
    "WriterFault": "vsssim.faults",
    "Costs": "vsssim.options",
    "VssOptions": "vsssim.options",
    "GUID_NULL": "vsssim.providers",
    "HardwareProvider": "vsssim.providers",
    "Provider": "vsssim.providers",
    "SnapshotProvider": "vsssim.providers",
    "SystemProvider": "vsssim.providers",
    "VolumeInfo": "vsssim.providers",
    "BackupComponents": "vsssim.requester",
    "RestoreResult": "vsssim.restore",
    "VssSystem": "vsssim.system",
    "EventKind": "vsssim.trace",
    "Trace": "vsssim.trace",
    "TraceEvent": "vsssim.trace",
    "Tracer": "vsssim.trace",
    "Writer": "vsssim.writer",
}

if TYPE_CHECKING:
    from vsssim.asyncop import Async
    from vsssim.backup import BackedUpFile, BackupResult
    from vsssim.clock import Clock, RealClock, VirtualClock
    from vsssim.components import Component, WriterComponents
    from vsssim.documents import WriterMetadata, WriterMetadataBuilder, WriterStatus
    from vsssim.faults import (
        FaultPlan,
        IdentifyDuring,
        InjectedFault,
        ProviderFault,
        RequesterCrash,
        StorageFault,
        WriterFault,
    )
    from vsssim.medium import MediumError
    from vsssim.options import Costs, VssOptions
    from vsssim.providers import (
        GUID_NULL,
        HardwareProvider,
        Provider,
        SnapshotProvider,
        SystemProvider,
        VolumeInfo,
    )
    from vsssim.requester import BackupComponents
    from vsssim.restore import RestoreResult
    from vsssim.system import VssSystem
    from vsssim.trace import EventKind, Trace, TraceEvent, Tracer
    from vsssim.writer import Writer


__all__ = [
    "Async",
    "BackedUpFile",
    "BackupComponents",
    "BackupResult",
    "Clock",
    "Component",
    "Costs",
    "EventKind",
    "FaultPlan",
    "GUID_NULL",
    "HardwareProvider",
    "IdentifyDuring",
    "InjectedFault",
    "MediumError",
    "Provider",
    "ProviderFault",
    "RealClock",
    "RequesterCrash",
    "RestoreResult",
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

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
