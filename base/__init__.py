"""The base every process stands on: settings, Kafka helpers, the SQL client, logs, metrics,
health and serving. It imports none of the process packages (``collector``,
``stream_processors``, ``sinks``, ``webhooks``, ``dashboard``) nor the ``footfall`` app;
``tests/unit/test_layers.py`` holds that."""
