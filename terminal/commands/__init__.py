"""Click command groups of the `anju` CLI, one module per group."""
