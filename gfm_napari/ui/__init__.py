"""The only package that talks to napari / Qt: it turns layers into core objects and back.

napari imports this package before any of the plugin's readers, writers, samples or widgets, so it is where the
viewer's process is told to keep triton out (see :mod:`.native_libraries`) — before a dock pulls in torch.
"""

from .native_libraries import keep_triton_out

keep_triton_out()
