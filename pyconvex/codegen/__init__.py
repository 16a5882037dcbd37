"""``_generated/``: typed references and a typed data model for a functions directory."""

from pyconvex.codegen.generate import GeneratedFiles, generate, write_generated

__all__ = ["GeneratedFiles", "generate", "write_generated"]
