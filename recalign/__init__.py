"""recalign: align seq2seq language models with recommendation knowledge.

Library first: every CLI verb calls a function importable from here.
"""
__version__ = "0.1.0"
