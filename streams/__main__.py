"""`python -m streams` is the `safety` command."""

import sys

from streams.cli import main

sys.exit(main())
