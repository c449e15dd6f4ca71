"""Ships the orders that are published."""

__version__ = "0.1.0"
SERVICE_NAME = "fulfilment"
# Topic patterns the queue is bound to unless WORKER_SUBSCRIBES says otherwise.
DEFAULT_SUBSCRIBES = "*.item.published"
