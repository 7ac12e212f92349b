"""Who may fire which step and see which block of a case: the one decision point.

For now an explicit role table (``roles.py``) and a visibility function (``visibility.py``),
both pure; the charter's Cedar policies replace their bodies without touching callers.
"""
