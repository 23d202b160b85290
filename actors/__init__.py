"""The actor kinds: the durable base actor, connectors, order, inventory, gate, margin, reconciler."""

__all__: list[str] = []
