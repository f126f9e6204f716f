"""`python -m iclft ...`: the same as the `iclft` command."""

import sys

from iclft.cli import main

sys.exit(main())
