"""`python -m election_tui` is the `election-tui` command."""

import sys

from .cli import main

sys.exit(main())
