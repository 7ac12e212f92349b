"""The case aggregate: a worrying situation and everything the procedure records about it."""
