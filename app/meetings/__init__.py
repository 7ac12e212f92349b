"""Cell meetings (step 4) and their agendas."""
