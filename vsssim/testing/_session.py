"""What the pytest plugin's command-line options set for this process (cheap to import).

The plugin fills these in ``pytest_configure``; conformance runs read them when they start, so
``--vss-seed`` and ``--vss-conformance-examples`` reach ``WriterConformance.TestCase`` and
``check_writer`` without the plugin importing the simulator.
"""

from __future__ import annotations

#: ``--vss-seed``: the seed of every machine (None: the fixture's or the machine's own choice).
seed: int | None = None
#: ``--vss-conformance-examples``: examples per conformance run (None: the hypothesis profile).
conformance_examples: int | None = None
