"""`python -m safety` is the `safety` command."""

import sys

from safety.cli import main

sys.exit(main())
