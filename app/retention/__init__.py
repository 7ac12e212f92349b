"""Retention (R18): the rules in policies/retention.cedar, and the purge that applies them."""
