"""The sandbox: loopback simulators of Shopify, NetSuite and a WMS that keep the external contracts."""

__all__: list[str] = []
