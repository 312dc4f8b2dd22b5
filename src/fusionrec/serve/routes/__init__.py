"""One router per resource: recommendations, users, items, events, health and the web page.

Read routes are ``async def``: their work (an indexed event query, a faiss
search, rendering) takes well under a millisecond, less than a hop through
the thread pool would cost, so it runs on the event loop. Write routes are
plain ``def`` and run in the thread pool, because a commit waits for the
disk (SQLite ``synchronous=FULL``).
"""
