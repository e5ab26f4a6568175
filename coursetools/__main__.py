"""``python -m coursetools <verb>``: see ``coursetools.cli``."""

import sys

from coursetools.cli import main

sys.exit(main())
