"""One exception tree for gfm-napari.

Every error a user can cause derives from :class:`GfmError`; its ``str()`` is a single line meant to be
shown as is (a napari notification in the GUI, ``error: ...`` and exit code 2 on the CLI). Messages never
contain patient identifiers.

GfmError
├── ImageReadError    a file cannot be opened as an image (unreadable, unsupported, empty, NaN, 4D, ...)
├── GeometryError     spacing / orientation / CRS is missing or inconsistent, or shapes do not match
├── ExportError       a mask cannot be written (bad suffix, would overwrite the input, ...)
├── ModelError        a model or checkpoint cannot be built or loaded (missing, truncated, mismatched)
└── PromptError       a prompt does not fit the image (box outside or empty, click outside, bad slice)
"""

from __future__ import annotations


class GfmError(Exception):
    """Base class: an error caused by the user's input, with a one-line message."""


class ImageReadError(GfmError):
    """The input cannot be read as an image."""


class GeometryError(GfmError):
    """Geometry (affine, spacing, CRS, transform) is missing, inconsistent or does not match."""


class ExportError(GfmError):
    """A mask cannot be written where or how it was asked."""


class ModelError(GfmError):
    """A model or its weights cannot be built or loaded."""


class PromptError(GfmError):
    """A prompt (point, box, slice) does not fit the image."""
