"""cenomed: the CENOMED cells' secure exchange of nominative information about minors."""
