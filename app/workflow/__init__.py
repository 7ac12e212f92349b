"""The fiche 1.3 procedure as a state machine: pure code, no HTTP, no SQL.

``machine.py`` defines the states and the steps once; ``guards.py`` holds the procedural rules
(one calendar month between receipt and examination, family informed before social services...)
as pure functions of plain values. The service layer loads the case, asks the workflow to fire a
step, and persists the outcome.
"""
