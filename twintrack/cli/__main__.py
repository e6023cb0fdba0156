"""``python -m twintrack.cli ...``: the same as the ``twintrack`` command."""

import sys

from twintrack.cli.main import main

sys.exit(main())
