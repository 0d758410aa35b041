"""`python -m svgrl.cli` — the same as the `svgrl` console script."""

import sys

from svgrl.cli import main

sys.exit(main())
