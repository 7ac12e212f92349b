"""The charter as the one decision point: Cedar policies in ``policies/``, evaluated in-process.

``engine.py`` loads and validates them once and memoises decisions; ``visibility.py`` asks which
blocks of a case a caller sees; ``decisions.py`` asks whether a caller may take a step or a
meeting action. Nothing else in the code decides who may do or see what.
"""
