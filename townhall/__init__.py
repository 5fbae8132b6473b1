"""Townhall: a city hall's WhatsApp citizen service."""
