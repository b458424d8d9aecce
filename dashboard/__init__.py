"""The dashboard process (``python -m dashboard``): the marketers' web app over the sink's
SQL endpoint. It imports only ``base`` and ``schemas``."""
