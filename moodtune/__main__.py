"""``python -m moodtune`` is the ``moodtune`` command."""

from moodtune.app.cli import main

raise SystemExit(main())
