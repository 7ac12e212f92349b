"""What awaits each user (issue 18): a worklist computed from the procedure's own data, each
case shown only as far as the charter lets its reader see it."""
