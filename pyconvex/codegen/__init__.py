"""``_generated/``: typed references and a typed data model for a functions directory."""

from pyconvex.codegen.generate import (
    GeneratedFiles,
    bootstrap_generated,
    generate,
    generate_files,
    write_generated,
)

__all__ = ["GeneratedFiles", "bootstrap_generated", "generate", "generate_files", "write_generated"]
