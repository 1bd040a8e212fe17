"""``python -m h2cm.cli``: the same as the ``h2cm`` command."""

import sys

from . import main

sys.exit(main())
