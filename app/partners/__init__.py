"""The partner services of a cell, by destination: whom an orientation names (issue 15)."""
