"""``python -m vsssim.cli``: the ``vsssim`` command without its console script."""

from vsssim.cli.main import main

main()
