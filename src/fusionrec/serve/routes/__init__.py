"""One router per resource: recommendations, users, items, events, health and the web page."""
