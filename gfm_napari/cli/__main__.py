"""``python -m gfm_napari.cli ...`` = the ``gfm-napari`` command."""

import sys

from gfm_napari.cli import main

sys.exit(main())
