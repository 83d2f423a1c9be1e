"""``python -m kawa`` is the ``kawa`` command."""

from kawa.cli.main import main

main()
