"""``python -m gfm_napari ...`` = the ``gfm-napari`` command (the dock launches training runs this way)."""

import sys

from gfm_napari.cli import main

sys.exit(main())
