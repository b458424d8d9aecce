"""The ``footfall`` app on top of the processes: the CLI, the local stack (``footfall up``),
the demo and the benchmarks. It may import every package; none imports it
(``docs/architecture.md``)."""
