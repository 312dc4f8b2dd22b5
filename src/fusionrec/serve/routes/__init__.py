"""One router per resource: recommendations, users, items, events, health and the web page.

Routes that reach the event store (reads of users and items, writes, and
/ready) are plain ``def`` and run in the thread pool: a store call may wait
up to its timeout (see :mod:`fusionrec.serve.resilience`), and on the event
loop that wait would hold every other request, /health included. Routes
that never touch the store (/health, /metrics, /v1/model, the user list)
are ``async def`` and answer on the event loop.
"""
