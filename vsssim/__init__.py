"""vsssim: a pure-Python simulator of the Windows Volume Shadow Copy Service (VSS)."""

from vsssim import constants, errors, hresult
from vsssim.clock import Clock, RealClock, VirtualClock
from vsssim.constants import *  # noqa: F403
from vsssim.errors import *  # noqa: F403
from vsssim.trace import EventKind, Trace, TraceEvent, Tracer

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "EventKind",
    "RealClock",
    "Trace",
    "TraceEvent",
    "Tracer",
    "VirtualClock",
    "__version__",
    "constants",
    "errors",
    "hresult",
    *constants.__all__,
    *errors.__all__,
]
