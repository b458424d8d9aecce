"""The webhook dispatcher process (``python -m webhooks``): subscriptions, signing, delivery,
retries, the DLQ and replay, fed by the events and the worker's journey, segment and profile
topics. It imports only ``base`` and ``schemas``."""
