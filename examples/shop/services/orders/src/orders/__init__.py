"""Takes and tracks customer orders."""

__version__ = "0.1.0"
SERVICE_NAME = "orders"
