"""The web front end the cell's members use (issue 9), served by the same application at ``/``.

Server-rendered pages over the same services and policy decision point as the API: a page
calls the service functions the API routes call, with the principal of a server-side web
session, so the charter is enforced once. A page that shows a case is an audited read.
"""
