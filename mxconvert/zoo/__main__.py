"""``python -m mxconvert.zoo --help``."""
import sys

from .cli import main

sys.exit(main())
