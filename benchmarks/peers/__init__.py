"""Workload definitions and the qemu peer of ``benchmarks/cow.py``, vendored.

Vendored (trimmed, reformatted, behaviour unchanged) from the project's reference bench that
measured the peer numbers of issue 3 (``bench/workloads.py`` and ``bench/peers.py`` of the
shared reference material, 2026-12), so that the benchmark runs from a plain checkout:

* :mod:`peers.workloads`: the named workloads, their deterministic offsets (splitmix64) and
  the page-warming protocol (``warm_memory``);
* :mod:`peers.qemu`: the same workloads replayed on qcow2 images through ``qemu-img`` and
  ``qemu-io`` (needs ``apt-get install -y qemu-utils``).
"""
