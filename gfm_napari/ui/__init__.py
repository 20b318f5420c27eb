"""The only package that talks to napari / Qt: it turns layers into core objects and back."""
