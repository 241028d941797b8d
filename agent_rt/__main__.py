"""``python -m agent_rt`` runs the ``agent-rt`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
