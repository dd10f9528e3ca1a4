"""``python -m mlineage.cli``: the same as the ``mlineage`` command."""

import sys

from mlineage.cli import main

sys.exit(main())
