"""The fiche 1.3 indicators (R19): counts for the cells and the comité de pilotage."""
