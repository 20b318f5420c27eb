"""gfm-napari: interactive foundation-model segmentation for medical and satellite images.

Importing the package pulls in neither torch nor Qt: npe2 imports it early to read the manifest.
"""

__version__ = "0.1.0"
