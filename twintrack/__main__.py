"""`python -m twintrack ...`: the same as the `twintrack` console script (handy where it is not installed)."""

import sys

from twintrack.cli import main

sys.exit(main())
