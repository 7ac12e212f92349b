"""E-mail notifications (issue 18): an outbox written with the step that causes it, a sender.

A step adds rows to ``notification`` in its own transaction (``service.enqueue_*``), and never
talks to SMTP. The sender (``sender.run_once``, one active across workers by a database lock)
groups each recipient's due notifications into messages, delivers them with retries, and
records every attempt. A message says how many things of which kind wait, in which cell, and
links to the service; for meetings, the date, time and place with an iCalendar attachment.
Never a name, a birth date, an address, a case reference, a motif or any free text: an inbox
is outside the charter's frame (L.132-5 CSI), and a mail server keeps what it relays.
"""
