"""``python -m rnnrobust.config [OVERLAY.yaml ...]``: check config.yaml with overlays layered over it."""

from rnnrobust.config.cli import main

raise SystemExit(main())
