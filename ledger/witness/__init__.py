"""A C2SP tlog-witness: the request logic and durable state (pure of HTTP), and its server."""
