"""Printable documents (the meetings' agendas and minutes): HTML from the web's Jinja templates,
turned into PDF by WeasyPrint without fetching anything (:mod:`app.documents.pdf`), with French
dates and typographic spacing (:mod:`app.documents.french`) that the pages share."""
