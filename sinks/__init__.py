"""The ClickHouse sink process (``python -m sinks``): Kafka to ClickHouse with numbered
migrations, the read-only SQL endpoint and the privacy API. It imports only ``base`` and
``schemas``."""
