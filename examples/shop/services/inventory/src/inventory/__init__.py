"""Knows what is in stock."""

__version__ = "0.1.0"
SERVICE_NAME = "inventory"
