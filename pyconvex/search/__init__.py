"""Full-text and vector indexes, kept per version so searches read a snapshot exactly.

Pure index structures: the database layer feeds them the document log (``apply``) and
asks them for candidates at a timestamp, with a transaction's own writes overlaid.
"""

from pyconvex.search.text import MAX_FILTERS, MAX_RESULTS, MAX_TERMS, TextIndex, tokenize
from pyconvex.search.vector import VectorIndex

__all__ = ["MAX_FILTERS", "MAX_RESULTS", "MAX_TERMS", "TextIndex", "VectorIndex", "tokenize"]
