"""``python -m cli``: the ``touchline`` command."""

from cli.main import main

raise SystemExit(main())
