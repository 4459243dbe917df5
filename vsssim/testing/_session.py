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


def machine_seed(named: int | None, drawn: int) -> int:
    """The seed of a conformance machine: the one its class names, else ``--vss-seed``, else
    the one hypothesis drew.  Like the ``vss`` marker (and hypothesis's ``@seed`` over
    ``--hypothesis-seed``), a seed a test names is kept whatever the command line says."""
    if named is not None:
        return named
    return seed if seed is not None else drawn
