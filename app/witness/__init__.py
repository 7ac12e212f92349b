"""A C2SP tlog-witness for the audit log (issue 20), run by a partner on their own machine.

The witness remembers the latest checkpoint it cosigned and cosigns a new one only if a
consistency proof shows it extends that one: a log rewritten or rolled back by whoever runs
the service can no longer collect the partners' cosignatures. No database, no account: a key
file, a state file, and one HTTP endpoint (``POST /add-checkpoint``).
"""
