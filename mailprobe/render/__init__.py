"""Renderers: turn result objects into rich terminal output or HTML. No diagnostic logic here."""
