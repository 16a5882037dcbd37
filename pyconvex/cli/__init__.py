"""The ``pyconvex`` command line."""
