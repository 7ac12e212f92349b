"""Cells, user accounts and cell memberships."""
