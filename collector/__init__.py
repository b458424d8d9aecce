"""The collector process (``python -m collector``): the FastAPI app that authenticates,
validates, enriches and writes events to Kafka, and serves the snippet. It imports only
``base`` and ``schemas``."""
